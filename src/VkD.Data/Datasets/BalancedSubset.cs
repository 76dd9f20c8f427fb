using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>
/// A seeded, class-balanced subset of a dataset (<c>--train-subset</c>/<c>--eval-subset</c>): classes take turns giving
/// one image each (drawn in a per-class seeded order) until <c>count</c> images are chosen, so every class gets
/// ⌊count / classes⌋ or one more while it has images left. The chosen images keep the inner dataset's order. Taking the
/// first N files instead gave only the first classes of a sorted image folder.
/// </summary>
public sealed class BalancedSubset : IImageDataset
{
    private readonly IImageDataset _inner;
    private readonly int[] _indices;

    /// <summary>Draws <paramref name="count"/> images of <paramref name="inner"/> (all when it has no more).</summary>
    /// <param name="inner">The full dataset.</param>
    /// <param name="count">Images to keep, &gt; 0.</param>
    /// <param name="seed">Seed of the per-class draw; the same seed gives the same subset.</param>
    public BalancedSubset(IImageDataset inner, int count, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        _inner = inner;
        if (count >= inner.Count)
        {
            _indices = Enumerable.Range(0, inner.Count).ToArray();
            return;
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
        _indices = chosen.ToArray();
    }

    /// <summary>Indices into the inner dataset of the kept images, ascending.</summary>
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

    private int Map(int index) => (uint)index < (uint)_indices.Length
        ? _indices[index]
        : throw new ArgumentOutOfRangeException(nameof(index), index, $"Subset has {_indices.Length} images.");

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
