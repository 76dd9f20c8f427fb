using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>Some images of a dataset, by index, in the given order (labels and classes are the inner set's).</summary>
public sealed class DatasetSubset : IImageDataset
{
    private readonly IImageDataset _inner;
    private readonly int[] _indices;

    /// <summary>Views images <paramref name="innerIndices"/> of <paramref name="inner"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the inner dataset.</exception>
    public DatasetSubset(IImageDataset inner, IEnumerable<int> innerIndices)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _indices = innerIndices.ToArray();
        foreach (var i in _indices)
        {
            if ((uint)i >= (uint)inner.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(innerIndices), i, $"The dataset has {inner.Count} images.");
            }
        }
    }

    /// <summary>Indices into the inner dataset of the kept images.</summary>
    public IReadOnlyList<int> InnerIndices => _indices;

    /// <inheritdoc />
    public int Count => _indices.Length;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => _inner.ClassNames;

    /// <inheritdoc />
    public int GetLabel(int index) => _inner.GetLabel(Map(index));

    /// <inheritdoc />
    public ImageU8 LoadImage(int index) => _inner.LoadImage(Map(index));

    /// <inheritdoc />
    public string Describe(int index) => _inner.Describe(Map(index));

    /// <inheritdoc />
    public string? FilePath(int index) => _inner.FilePath(Map(index));

    private int Map(int index) => (uint)index < (uint)_indices.Length
        ? _indices[index]
        : throw new ArgumentOutOfRangeException(nameof(index), index, $"Subset has {_indices.Length} images.");
}

/// <summary>
/// A seeded, class-balanced subset of a dataset (<c>--train-subset</c>/<c>--eval-subset</c>): classes take turns giving
/// one image each (drawn in a per-class seeded order) until <c>count</c> images are chosen, so every class gets
/// ⌊count / classes⌋ or one more while it has images left. The chosen images keep the inner dataset's order. Taking the
/// first N files instead gave only the first classes of a sorted image folder.
/// </summary>
public static class BalancedSubset
{
    /// <summary>Draws <paramref name="count"/> images of <paramref name="inner"/> (all when it has no more).</summary>
    /// <param name="inner">The full dataset.</param>
    /// <param name="count">Images to keep, &gt; 0.</param>
    /// <param name="seed">Seed of the per-class draw; the same seed gives the same subset.</param>
    public static DatasetSubset Draw(IImageDataset inner, int count, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (count >= inner.Count)
        {
            return new DatasetSubset(inner, Enumerable.Range(0, inner.Count));
        }
        var byClass = new SortedDictionary<int, List<int>>();
        for (var i = 0; i < inner.Count; i++)
        {
            var label = inner.GetLabel(i);
            if (!byClass.TryGetValue(label, out var list))
            {
                byClass[label] = list = [];
            }
            list.Add(i);
        }
        var queues = byClass.Select(kv => Shuffled(kv.Value, DeterministicRandom.ForStream((long)seed, kv.Key))).ToList();
        var chosen = new List<int>(count);
        for (var round = 0; chosen.Count < count; round++)
        {
            foreach (var q in queues)
            {
                if (round < q.Count && chosen.Count < count)
                {
                    chosen.Add(q[round]);
                }
            }
        }
        chosen.Sort();
        return new DatasetSubset(inner, chosen);
    }

    private static List<int> Shuffled(List<int> items, DeterministicRandom rng)
    {
        var copy = new List<int>(items);
        for (var i = copy.Count - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        return copy;
    }
}
