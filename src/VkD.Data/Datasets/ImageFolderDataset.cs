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
        var index = ClassNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        foreach (var folder in folders)
        {
            var dir = Path.Combine(Root, folder);
            var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f)))
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
}
