using VkD.Data.Datasets;
using VkD.Data.Imaging;

namespace VkD.Training.Distributed;

/// <summary>Rank <c>r</c>'s share of a dataset for evaluation: images r, r + W, r + 2W, ... With no padding (unlike the
/// training sampler) every image is evaluated exactly once over all ranks, so reduced counts equal a single process's.</summary>
public sealed class StridedShard : IImageDataset
{
    private readonly IImageDataset _inner;
    private readonly int _rank;
    private readonly int _worldSize;

    /// <summary>Rank <paramref name="rank"/> of <paramref name="worldSize"/> of <paramref name="inner"/>.</summary>
    public StridedShard(IImageDataset inner, int rank, int worldSize)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), $"Rank {rank} is not in [0, {worldSize}).");
        }
        _inner = inner;
        _rank = rank;
        _worldSize = worldSize;
        Count = inner.Count <= rank ? 0 : ((inner.Count - 1 - rank) / worldSize) + 1;
    }

    /// <inheritdoc />
    public int Count { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => _inner.ClassNames;

    /// <summary>The index in the whole dataset of this shard's image <paramref name="index"/>.</summary>
    public int InnerIndex(int index) =>
        (uint)index < (uint)Count ? _rank + (index * _worldSize) : throw new ArgumentOutOfRangeException(nameof(index), index, $"Shard has {Count} images.");

    /// <inheritdoc />
    public int GetLabel(int index) => _inner.GetLabel(InnerIndex(index));

    /// <inheritdoc />
    public ImageU8 LoadImage(int index) => _inner.LoadImage(InnerIndex(index));

    /// <inheritdoc />
    public string Describe(int index) => _inner.Describe(InnerIndex(index));
}
