using System.Diagnostics;
using VkD.Data.Datasets;

namespace VkD.Tests.Data;

/// <summary>Issue 18.10: a symbolic-link loop in a class folder labelled the same images again and again, and a FIFO
/// named <c>.png</c> hung the loader.</summary>
public sealed class ImageFolderScanTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vkd-scan-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Symlink_loops_are_scanned_once_and_fifos_and_empty_files_are_skipped_with_a_reason()
    {
        foreach (var cls in new[] { "cat", "dog" })
        {
            Directory.CreateDirectory(Path.Combine(_root, cls, "sub"));
            File.WriteAllBytes(Path.Combine(_root, cls, "a.png"), [1, 2, 3]);
            File.WriteAllBytes(Path.Combine(_root, cls, "sub", "b.png"), [1, 2, 3]);
        }
        // cat/loop -> the root: followed blindly, every image of every class would reappear under "cat".
        Directory.CreateSymbolicLink(Path.Combine(_root, "cat", "loop"), _root);
        Directory.CreateSymbolicLink(Path.Combine(_root, "dog", "sub", "again"), Path.Combine(_root, "dog"));
        File.WriteAllBytes(Path.Combine(_root, "dog", "empty.png"), []);
        using (var mkfifo = Process.Start("mkfifo", [Path.Combine(_root, "cat", "pipe.png")]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var ds = new ImageFolderDataset(_root);
        Assert.Equal(["cat", "dog"], ds.ClassNames);
        // cat: a.png, sub/b.png, and loop/dog/{a,sub/b}.png reached through the link once (the link's target, the root,
        // holds cat itself, which is not scanned again); dog: its two, its own back-link skipped.
        var labels = Enumerable.Range(0, ds.Count).Select(ds.GetLabel).ToList();
        Assert.Equal(6, ds.Count);
        Assert.Equal(2, labels.Count(l => l == 1));
        Assert.Contains(ds.Skipped, s => s.Contains("pipe.png", StringComparison.Ordinal) && s.Contains("FIFO", StringComparison.Ordinal));
        Assert.Contains(ds.Skipped, s => s.Contains("empty.png", StringComparison.Ordinal));
        Assert.Contains(ds.Skipped, s => s.Contains("symbolic link", StringComparison.Ordinal));
    }
}
