using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>An image file that cannot be used, and why.</summary>
/// <param name="Index">Its index in the checked dataset.</param>
/// <param name="Path">The file.</param>
/// <param name="Reason">What is wrong (empty, not an image, truncated, too large...).</param>
public sealed record BadImage(int Index, string Path, string Reason);

/// <summary>
/// Checks every image file of a dataset before a run (<see cref="ImageDecoder.Inspect"/>: header and end marker, a
/// full decode only for suspects), so a zero-byte, truncated or mislabelled file stops the run at once with its name
/// instead of hours in, and <c>--skip-bad-images</c> can leave them out from the start.
/// </summary>
public static class ImagePreflight
{
    /// <summary>The bad files of <paramref name="dataset"/>, in index order; empty for datasets without files.</summary>
    /// <param name="dataset">The dataset to check.</param>
    /// <param name="threads">Files checked at once.</param>
    public static IReadOnlyList<BadImage> Find(IImageDataset dataset, int threads = 2)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Count == 0 || dataset.FilePath(0) is null)
        {
            return [];
        }
        var reasons = new string?[dataset.Count];
        Parallel.For(0, dataset.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, i =>
        {
            if (dataset.FilePath(i) is { } path)
            {
                reasons[i] = ImageDecoder.Inspect(path);
            }
        });
        var bad = new List<BadImage>();
        for (var i = 0; i < reasons.Length; i++)
        {
            if (reasons[i] is { } reason)
            {
                bad.Add(new BadImage(i, dataset.FilePath(i)!, reason));
            }
        }
        return bad;
    }

    /// <summary><paramref name="dataset"/> without the images in <paramref name="bad"/>.</summary>
    public static IImageDataset Without(IImageDataset dataset, IReadOnlyList<BadImage> bad)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(bad);
        if (bad.Count == 0)
        {
            return dataset;
        }
        var excluded = bad.Select(b => b.Index).ToHashSet();
        return new DatasetSubset(dataset, Enumerable.Range(0, dataset.Count).Where(i => !excluded.Contains(i)));
    }
}
