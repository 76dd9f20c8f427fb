using VkD.Data.Datasets;
using VkD.Data.Imaging;

namespace VkD.Training.Distributed;

/// <summary>Rank <c>r</c>'s share of a dataset for evaluation: the blocks r, r + W, r + 2W, ... of
/// <see cref="BlockSize"/> consecutive images (block 1: images r, r + W, ...). With no padding (unlike the training
/// sampler) every image is evaluated exactly once over all ranks, so reduced counts equal a single process's. With the
/// evaluation batch size as the block, each rank's batches are exactly the single process's batches r, r + W, ..., so
/// their logits and per-batch loss sums are the single process's too, and <see cref="ShardedClassificationMetrics.Gather"/>
/// can recombine them in the single process's order.</summary>
public sealed class StridedShard : IImageDataset
{
    private readonly IImageDataset _inner;
    private readonly int _rank;
    private readonly int _worldSize;

    /// <summary>Rank <paramref name="rank"/> of <paramref name="worldSize"/> of <paramref name="inner"/>, in blocks
    /// of <paramref name="blockSize"/> images.</summary>
    public StridedShard(IImageDataset inner, int rank, int worldSize, int blockSize = 1)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), $"Rank {rank} is not in [0, {worldSize}).");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        _inner = inner;
        _rank = rank;
        _worldSize = worldSize;
        BlockSize = blockSize;
        var blocks = (inner.Count + blockSize - 1) / blockSize;
        var mine = blocks <= rank ? 0 : ((blocks - 1 - rank) / worldSize) + 1;
        // Only the dataset's last block can be short, and it is the last block of whichever rank holds it.
        var last = rank + ((mine - 1) * worldSize);
        Count = mine == 0 ? 0 : ((mine - 1) * blockSize) + Math.Min(blockSize, inner.Count - (last * blockSize));
    }

    /// <inheritdoc />
    public int Count { get; }

    /// <summary>Consecutive images per block.</summary>
    public int BlockSize { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => _inner.ClassNames;

    /// <summary>The index in the whole dataset of this shard's image <paramref name="index"/>.</summary>
    public int InnerIndex(int index) =>
        (uint)index < (uint)Count
            ? ((_rank + ((index / BlockSize) * _worldSize)) * BlockSize) + (index % BlockSize)
            : throw new ArgumentOutOfRangeException(nameof(index), index, $"Shard has {Count} images.");

    /// <inheritdoc />
    public int GetLabel(int index) => _inner.GetLabel(InnerIndex(index));

    /// <inheritdoc />
    public ImageU8 LoadImage(int index) => _inner.LoadImage(InnerIndex(index));

    /// <inheritdoc />
    public string Describe(int index) => _inner.Describe(InnerIndex(index));
}
