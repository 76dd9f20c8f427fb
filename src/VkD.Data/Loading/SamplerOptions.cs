namespace VkD.Data.Loading;

/// <summary>How the loader orders and shards a dataset each epoch.</summary>
public sealed record SamplerOptions
{
    /// <summary>DeiT's repeated-augmentation sampler (RASampler) instead of the plain (distributed) sampler.</summary>
    public bool RepeatedAugmentation { get; init; }

    /// <summary>Copies of each index per epoch (DeiT: 3).</summary>
    public int Repeats { get; init; } = 3;

    /// <summary>RASampler keeps <c>floor(N // RoundTo * RoundTo / worldSize)</c> samples per rank (DeiT: 256), so an
    /// epoch has about N samples in total even though every image appears <see cref="Repeats"/> times.</summary>
    public int RoundTo { get; init; } = 256;

    /// <summary>Plain sampling (shuffle or sequential, then shard like torch's DistributedSampler).</summary>
    public static SamplerOptions Default { get; } = new();

    /// <summary>DeiT's RASampler with 3 repeats.</summary>
    public static SamplerOptions DeiTRepeatedAugmentation { get; } = new() { RepeatedAugmentation = true };
}

/// <summary>The per-epoch index lists; pure functions of (dataset size, seed, epoch, rank, world size).</summary>
public static class EpochSampler
{
    /// <summary>The dataset indices rank <paramref name="rank"/> visits in <paramref name="epoch"/>, in order.</summary>
    /// <remarks>
    /// The order is drawn from <c>(seed, epoch)</c> only, so every rank sees the same permutation and takes its own
    /// stride of it. Plain: permutation (or 0..N-1), padded by repeating its head to a multiple of the world size,
    /// then <c>[rank::worldSize]</c> (torch's DistributedSampler). Repeated augmentation (DeiT's RASampler):
    /// permutation, each index repeated <c>Repeats</c> times in place, padded the same way, <c>[rank::worldSize]</c>,
    /// then truncated to <c>floor(N // RoundTo * RoundTo / worldSize)</c>.
    /// </remarks>
    public static int[] Indices(int count, bool shuffle, long seed, int epoch, SamplerOptions options, int rank, int worldSize)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), $"Rank {rank} is not in [0, {worldSize}).");
        }
        if (count <= 0)
        {
            throw new InvalidOperationException("The dataset is empty.");
        }
        var order = shuffle
            ? DeterministicRandom.ForStream(seed, epoch, 0x5A3F).Permutation(count)
            : Enumerable.Range(0, count).ToArray();
        int repeats = options.RepeatedAugmentation ? options.Repeats : 1;
        if (repeats < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"Repeats must be at least 1, got {repeats}.");
        }
        var repeated = new List<int>(count * repeats);
        foreach (var i in order)
        {
            for (int r = 0; r < repeats; r++)
            {
                repeated.Add(i);
            }
        }
        int perRank = (repeated.Count + worldSize - 1) / worldSize;
        int total = perRank * worldSize;
        for (int k = 0; repeated.Count < total; k++)
        {
            repeated.Add(repeated[k]);
        }
        var mine = new List<int>(perRank);
        for (int k = rank; k < total; k += worldSize)
        {
            mine.Add(repeated[k]);
        }
        if (!options.RepeatedAugmentation)
        {
            return mine.ToArray();
        }
        int selected = (int)Math.Floor((double)(count / options.RoundTo * options.RoundTo) / worldSize);
        if (selected == 0)
        {
            throw new InvalidOperationException(
                $"The repeated-augmentation sampler keeps floor({count} // {options.RoundTo} * {options.RoundTo} / {worldSize}) = 0 samples; use a smaller RoundTo or the plain sampler.");
        }
        return mine.Take(selected).ToArray();
    }
}
