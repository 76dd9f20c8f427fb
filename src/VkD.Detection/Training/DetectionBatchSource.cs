using VkD.Data;
using VkD.Data.Loading;
using VkD.Detection.Data;
using VkD.Training.Loop;

namespace VkD.Detection.Training;

/// <summary>
/// The training loop's detection batches (ViDT's <c>RandomSampler</c> + <c>BatchSampler(drop_last=True)</c> +
/// <c>collate_fn</c>): each epoch a permutation drawn from (seed, epoch), this rank's stride of it (torch's
/// <c>DistributedSampler</c>), cut into full batches; each batch is transformed with randomness fixed by
/// (seed, epoch, image) and zero-padded with ViDT's mask. A batch depends only on (seed, epoch, position), so a run
/// resumed mid-epoch gets the batches it would have got. With <see cref="Prefetch"/> the next batch is decoded while
/// the model runs on this one (ViDT's <c>--num_workers</c>).
/// </summary>
public sealed class DetectionBatchSource : IBatchSource<DetectionBatch>
{
    private readonly CocoDetectionDataset _dataset;
    private readonly int[] _pool;

    /// <summary>Creates the source.</summary>
    /// <param name="dataset">Training images with the train transform (e.g. <see cref="VidtTransforms.Train"/>).</param>
    /// <param name="batchSize">Images per batch (ViDT's <c>--batch_size</c>, per process).</param>
    /// <param name="seed">The run's seed: the order and the augmentation of every epoch derive from it.</param>
    /// <param name="rank">This process's shard.</param>
    /// <param name="worldSize">Number of shards.</param>
    /// <param name="prefetch">Decode the next batch in the background while the caller uses this one.</param>
    /// <param name="subset">Use only the first N images in id order (0: all).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count out of range.</exception>
    public DetectionBatchSource(CocoDetectionDataset dataset, int batchSize, long seed, int rank = 0, int worldSize = 1,
        bool prefetch = true, int subset = 0)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(subset);
        if (rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"Rank {rank} is not in [0, {worldSize}).");
        }
        if (dataset.Count == 0)
        {
            throw new ArgumentException($"The training set {dataset.GroundTruth.Source} has no images.", nameof(dataset));
        }
        _dataset = dataset;
        _pool = [.. Enumerable.Range(0, subset > 0 ? Math.Min(subset, dataset.Count) : dataset.Count)];
        BatchSize = batchSize;
        Seed = seed;
        Rank = rank;
        WorldSize = worldSize;
        Prefetch = prefetch;
    }

    /// <summary>The training images.</summary>
    public CocoDetectionDataset Dataset => _dataset;

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; }

    /// <summary>The run's seed.</summary>
    public long Seed { get; }

    /// <summary>This process's shard.</summary>
    public int Rank { get; }

    /// <summary>Number of shards.</summary>
    public int WorldSize { get; }

    /// <summary>True when the next batch is decoded in the background.</summary>
    public bool Prefetch { get; }

    /// <summary>Images this rank visits per epoch (the permutation is padded to a multiple of the world size, as
    /// torch's <c>DistributedSampler</c> pads it).</summary>
    public int Count => (_pool.Length + WorldSize - 1) / WorldSize;

    /// <inheritdoc />
    public int BatchesPerEpoch => Count / BatchSize;

    /// <summary>Dataset positions (ascending image id order) this rank visits in <paramref name="epoch"/>, in order.</summary>
    public int[] EpochIndices(int epoch) =>
        [.. EpochSampler.Indices(_pool.Length, shuffle: true, Seed, epoch, SamplerOptions.Default, Rank, WorldSize).Select(i => _pool[i])];

    /// <summary>The seed of <paramref name="epoch"/>'s augmentation (each image then draws from
    /// <see cref="CocoDetectionDataset.ExampleRandom"/> of it and its position).</summary>
    public long AugmentationSeed(int epoch) => (long)(DeterministicRandom.ForStream(Seed, epoch, 0x4A17).NextUInt64() >> 1);

    /// <summary>The dataset positions of batch <paramref name="batch"/> of <paramref name="epoch"/>.</summary>
    public int[] BatchIndices(int epoch, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(batch, BatchesPerEpoch);
        return EpochIndices(epoch)[(batch * BatchSize)..((batch + 1) * BatchSize)];
    }

    /// <inheritdoc />
    public IEnumerable<DetectionBatch> GetEpoch(int epoch, int startBatch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startBatch);
        var order = EpochIndices(epoch);
        var seed = AugmentationSeed(epoch);
        return Batches(order, seed, startBatch);
    }

    private IEnumerable<DetectionBatch> Batches(int[] order, long seed, int startBatch)
    {
        DetectionBatch Load(int b) => _dataset.GetBatch(order[(b * BatchSize)..((b + 1) * BatchSize)], seed);
        var count = BatchesPerEpoch;
        if (!Prefetch)
        {
            for (var b = startBatch; b < count; b++)
            {
                yield return Load(b);
            }
            yield break;
        }
        Task<DetectionBatch>? next = startBatch < count ? Task.Run(() => Load(startBatch)) : null;
        try
        {
            for (var b = startBatch; b < count; b++)
            {
                var current = next!.GetAwaiter().GetResult();
                next = null;
                var following = b + 1;
                if (following < count)
                {
                    next = Task.Run(() => Load(following));
                }
                yield return current;
            }
        }
        finally
        {
            // The caller stopped early (a test hook, an interruption, an error): the batch still loading is freed.
            if (next is not null)
            {
                try
                {
                    next.GetAwaiter().GetResult().Dispose();
                }
                catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException)
                {
                    // The caller's own exception, if any, is the one that matters.
                }
            }
        }
    }
}
