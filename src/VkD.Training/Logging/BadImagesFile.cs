using VkD.Data.Datasets;

namespace VkD.Training.Logging;

/// <summary>
/// <see cref="RunFiles.BadImages"/>: every file a run left out or replaced, one per line (path, tab, reason), each
/// listed once however many epochs met it. Rewritten atomically, so a kill never leaves a torn list.
/// </summary>
public static class BadImagesFile
{
    /// <summary>Adds <paramref name="images"/> to the list in <paramref name="runFolder"/> (creating it).</summary>
    public static void Add(string runFolder, IEnumerable<BadImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var path = Path.Combine(runFolder, RunFiles.BadImages);
        var lines = File.Exists(path) ? File.ReadAllLines(path).Where(l => l.Contains('\t')).ToList() : [];
        var known = lines.Select(l => l[..l.IndexOf('\t')]).ToHashSet(StringComparer.Ordinal);
        var added = false;
        foreach (var image in images)
        {
            if (known.Add(image.Path))
            {
                lines.Add($"{image.Path}\t{image.Reason.ReplaceLineEndings(" ")}");
                added = true;
            }
        }
        if (added)
        {
            Directory.CreateDirectory(runFolder);
            AtomicFile.WriteAllText(path, string.Join('\n', lines) + "\n");
        }
    }
}
