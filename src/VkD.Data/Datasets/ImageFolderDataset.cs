using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>torchvision's <c>ImageFolder</c> layout: <c>root/&lt;class&gt;/**/*.{jpg,jpeg,png,bmp,webp,gif}</c>. Classes are
/// the sub-folder names sorted ordinally (label = position); files are found recursively and sorted ordinally by
/// relative path. Only paths are held in memory; each image is decoded by <see cref="LoadImage"/> (grey expanded to RGB).</summary>
public sealed class ImageFolderDataset : IImageDataset
{
    private readonly string[] _paths;
    private readonly int[] _labels;
    private readonly bool _applyExifOrientation;

    /// <summary>Scans <paramref name="root"/>. When <paramref name="classNames"/> is given (the training classes), every
    /// sub-folder must be one of them and labels follow that list; classes missing here are allowed (a val split may
    /// lack some) but a folder train does not have is an error.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No class folders, an empty class folder, no images, or an unknown class.</exception>
    public ImageFolderDataset(string root, IReadOnlyList<string>? classNames = null, bool applyExifOrientation = false)
    {
        Root = Path.GetFullPath(root);
        _applyExifOrientation = applyExifOrientation;
        if (!Directory.Exists(Root))
        {
            throw new DirectoryNotFoundException($"Image folder '{Root}' does not exist.");
        }
        var folders = Directory.GetDirectories(Root).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (folders.Count == 0)
        {
            throw new InvalidDataException($"Image folder '{Root}' has no class sub-folders (expected {Root}/<class>/<image files>).");
        }
        if (classNames is null)
        {
            ClassNames = folders;
        }
        else
        {
            var unknown = folders.Where(f => !classNames.Contains(f)).ToList();
            if (unknown.Count > 0)
            {
                throw new InvalidDataException(
                    $"Image folder '{Root}' has class folder(s) the training set lacks: {string.Join(", ", unknown.Take(10))}.");
            }
            ClassNames = classNames.ToList();
        }
        var paths = new List<string>();
        var labels = new List<int>();
        var skipped = new List<string>();
        var index = ClassNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        foreach (var folder in folders)
        {
            var dir = Path.Combine(Root, folder);
            var files = FindImages(dir, skipped)
                .OrderBy(f => Path.GetRelativePath(dir, f), StringComparer.Ordinal).ToList();
            if (files.Count == 0)
            {
                throw new InvalidDataException(
                    $"Class folder '{dir}' has no image files ({string.Join(", ", ImageDecoder.Extensions.Order(StringComparer.Ordinal))}).");
            }
            paths.AddRange(files);
            labels.AddRange(Enumerable.Repeat(index[folder], files.Count));
        }
        _paths = paths.ToArray();
        _labels = labels.ToArray();
        Skipped = skipped;
    }

    /// <summary>Entries the scan left out, each with the reason: folders reached a second time through a symbolic
    /// link (a loop, or two links to one folder, would otherwise label the same images again and again) and entries
    /// with an image extension that are empty or not regular files (a FIFO named <c>.png</c> would hang the loader).</summary>
    public IReadOnlyList<string> Skipped { get; }

    // Walks `dir` like SearchOption.AllDirectories, but visits each real folder once.
    private static List<string> FindImages(string dir, List<string> skipped)
    {
        var found = new List<string>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        // Each folder with its real location: a child's is its parent's plus its name, unless the child is itself a
        // link, whose final target is absolute. Comparing real locations catches a loop however deep the link sits.
        var pending = new Stack<(string Path, string Real)>();
        pending.Push((dir, Path.GetFullPath(dir)));
        while (pending.Count > 0)
        {
            var (current, real) = pending.Pop();
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null)
            {
                real = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? real;
            }
            real = Path.TrimEndingDirectorySeparator(real);
            if (!visited.Add(real))
            {
                skipped.Add($"{current}: folder already scanned through another path (symbolic link to {real})");
                continue;
            }
            foreach (var sub in Directory.EnumerateDirectories(current))
            {
                pending.Push((sub, Path.Combine(real, Path.GetFileName(sub))));
            }
            foreach (var f in Directory.EnumerateFiles(current).Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f))))
            {
                if (new FileInfo(f).Length == 0)
                {
                    skipped.Add($"{f}: empty, or not a regular file (FIFO, device)");
                    continue;
                }
                found.Add(f);
            }
        }
        return found;
    }

    /// <summary>Opens <c>root/train</c> or <c>root/val</c> (val classes are checked against train's).</summary>
    public static ImageFolderDataset OpenSplit(string root, DataSplit split, bool applyExifOrientation = false)
    {
        var train = Path.Combine(root, "train");
        if (!Directory.Exists(train))
        {
            throw new DirectoryNotFoundException($"Image folder dataset '{Path.GetFullPath(root)}' has no 'train' sub-folder (expected train/<class>/ and val/<class>/).");
        }
        var trainSet = new ImageFolderDataset(train, null, applyExifOrientation);
        if (split == DataSplit.Train)
        {
            return trainSet;
        }
        var val = Path.Combine(root, "val");
        if (!Directory.Exists(val))
        {
            throw new DirectoryNotFoundException($"Image folder dataset '{Path.GetFullPath(root)}' has no 'val' sub-folder.");
        }
        return new ImageFolderDataset(val, trainSet.ClassNames, applyExifOrientation);
    }

    /// <summary>The scanned folder.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public int Count => _paths.Length;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The file of image <paramref name="index"/>.</summary>
    public string GetPath(int index) => _paths[index];

    /// <inheritdoc />
    public int GetLabel(int index) => _labels[index];

    /// <inheritdoc />
    public ImageU8 LoadImage(int index) => ImageDecoder.DecodeFile(_paths[index], forceRgb: true, _applyExifOrientation);

    /// <inheritdoc />
    public string Describe(int index) => _paths[index];

    /// <inheritdoc />
    public string? FilePath(int index) => _paths[index];
}
