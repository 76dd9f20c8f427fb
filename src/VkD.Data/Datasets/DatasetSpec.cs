using System.Globalization;
using VkD.Data.Transforms;

namespace VkD.Data.Datasets;

/// <summary>The kinds of dataset a <see cref="DatasetSpec"/> can name.</summary>
public enum DatasetKind
{
    /// <summary><c>root/train/&lt;class&gt;/*</c> and <c>root/val/&lt;class&gt;/*</c> (the reference's IMNET layout).</summary>
    ImageFolder,

    /// <summary>Fashion-MNIST IDX files (gz or raw) in one folder.</summary>
    FashionMnist,

    /// <summary>MNIST IDX files (gz or raw) in one folder.</summary>
    Mnist,

    /// <summary>scikit-learn's digits.csv.gz.</summary>
    Digits,

    /// <summary>OpenCV's digits.png.</summary>
    OpenCvDigits,
}

/// <summary>One CLI argument that names a dataset: <c>[kind:]path[?option&amp;option...]</c>.</summary>
/// <remarks>
/// Kinds: <c>folder</c> (also <c>imagenet</c>, <c>imnet</c>; the default when no kind is given), <c>fashion-mnist</c>,
/// <c>mnist</c>, <c>digits</c>, <c>opencv-digits</c>. Options: <c>rgb</c> (expand grey to 3 channels), <c>size=N</c>
/// (resize every image to N x N with PIL bicubic when loaded), <c>exif</c> (apply EXIF orientation to folder images).
/// Examples: <c>/data/imagenette</c>, <c>fashion-mnist:/usr/share/datasets/fashion-mnist?rgb&amp;size=32</c>,
/// <c>digits:/tmp/digits.csv.gz</c>. <c>fashion-mnist</c> alone uses Debian's install folder.
/// </remarks>
public sealed record DatasetSpec
{
    /// <summary>Where Debian's dataset-fashion-mnist package installs its files.</summary>
    public const string DebianFashionMnistPath = "/usr/share/datasets/fashion-mnist";

    private static readonly Dictionary<string, DatasetKind> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["folder"] = DatasetKind.ImageFolder,
        ["imagefolder"] = DatasetKind.ImageFolder,
        ["imagenet"] = DatasetKind.ImageFolder,
        ["imnet"] = DatasetKind.ImageFolder,
        ["fashion-mnist"] = DatasetKind.FashionMnist,
        ["fashionmnist"] = DatasetKind.FashionMnist,
        ["fmnist"] = DatasetKind.FashionMnist,
        ["mnist"] = DatasetKind.Mnist,
        ["digits"] = DatasetKind.Digits,
        ["opencv-digits"] = DatasetKind.OpenCvDigits,
    };

    /// <summary>The dataset kind.</summary>
    public required DatasetKind Kind { get; init; }

    /// <summary>Folder or file.</summary>
    public required string Path { get; init; }

    /// <summary>Expand grey images to 3 channels at load time.</summary>
    public bool ExpandToRgb { get; init; }

    /// <summary>Resize every image to this square size at load time (PIL bicubic), or null.</summary>
    public int? ResizeTo { get; init; }

    /// <summary>Apply EXIF orientation to image-folder files (torchvision/PIL does not).</summary>
    public bool ApplyExifOrientation { get; init; }

    /// <summary>Parses a spec string (see the type remarks).</summary>
    /// <exception cref="ArgumentException">Unknown kind or option, or a missing path.</exception>
    public static DatasetSpec Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new ArgumentException("Dataset spec is empty; give a folder or KIND:PATH (kinds: " + string.Join(", ", Names.Keys) + ").", nameof(spec));
        }
        string body = spec, options = "";
        var q = spec.LastIndexOf('?');
        if (q >= 0)
        {
            body = spec[..q];
            options = spec[(q + 1)..];
        }
        var kind = DatasetKind.ImageFolder;
        var colon = body.IndexOf(':', StringComparison.Ordinal);
        if (colon > 1 && Names.TryGetValue(body[..colon], out var named))
        {
            kind = named;
            body = body[(colon + 1)..];
        }
        else if (Names.TryGetValue(body, out var bare))
        {
            kind = bare;
            body = "";
        }
        var result = FromKind(kind, body);
        foreach (var option in options.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = option.Split('=', 2);
            result = kv[0].ToLowerInvariant() switch
            {
                "rgb" => result with { ExpandToRgb = true },
                "exif" => result with { ApplyExifOrientation = true },
                "size" when kv.Length == 2 && int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0
                    => result with { ResizeTo = s },
                _ => throw new ArgumentException($"Unknown dataset option '{option}' in '{spec}' (known: rgb, size=N, exif).", nameof(spec)),
            };
        }
        return result;
    }

    /// <summary>The reference's <c>--data-set NAME --data-path PATH</c> pair (IMNET / folder / fashion-mnist / mnist /
    /// digits / opencv-digits).</summary>
    public static DatasetSpec FromArgs(string dataSet, string? dataPath)
    {
        if (!Names.TryGetValue(dataSet, out var kind))
        {
            throw new ArgumentException($"Unknown --data-set '{dataSet}' (known: {string.Join(", ", Names.Keys)}).", nameof(dataSet));
        }
        return FromKind(kind, dataPath ?? "");
    }

    private static DatasetSpec FromKind(DatasetKind kind, string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            path = kind == DatasetKind.FashionMnist
                ? DebianFashionMnistPath
                : throw new ArgumentException($"Dataset kind {kind} needs a path (KIND:PATH).", nameof(path));
        }
        return new DatasetSpec { Kind = kind, Path = path };
    }

    /// <summary>Opens one split with the load-time options applied.</summary>
    public IImageDataset Open(DataSplit split)
    {
        IImageDataset ds = Kind switch
        {
            DatasetKind.ImageFolder => ImageFolderDataset.OpenSplit(Path, split, ApplyExifOrientation),
            DatasetKind.FashionMnist => IdxDataset.OpenFolder(Path, split, IdxDataset.FashionMnistClasses),
            DatasetKind.Mnist => IdxDataset.OpenFolder(Path, split, IdxDataset.DigitClasses),
            DatasetKind.Digits => DigitsCsvDataset.Load(Path, split),
            DatasetKind.OpenCvDigits => OpenCvDigitsDataset.Load(Path, split),
            _ => throw new InvalidOperationException($"Unhandled dataset kind {Kind}."),
        };
        return ExpandToRgb || ResizeTo is not null ? new DatasetView(ds, ExpandToRgb, ResizeTo) : ds;
    }

    /// <summary>Channels the opened images have (3 for folders or with <see cref="ExpandToRgb"/>, else 1).</summary>
    public int Channels => Kind == DatasetKind.ImageFolder || ExpandToRgb ? 3 : 1;

    /// <summary>Normalisation to use: ImageNet statistics for image folders, the usual published statistics for
    /// (Fashion-)MNIST, statistics computed from the training split for the digit sets; repeated over 3 channels
    /// when grey is expanded.</summary>
    public Normalization DefaultNormalization()
    {
        int c = Channels;
        return Kind switch
        {
            DatasetKind.ImageFolder => Normalization.ImageNet,
            DatasetKind.FashionMnist => Normalization.Grey(0.2860, 0.3530, c),
            DatasetKind.Mnist => Normalization.Grey(0.1307, 0.3081, c),
            _ => Repeat(Normalization.Compute(Open(DataSplit.Train), 1), c),
        };
    }

    private static Normalization Repeat(Normalization grey, int channels)
        => channels == 1 ? grey : Normalization.Grey(grey.Mean[0], grey.Std[0], channels);

    /// <inheritdoc />
    public override string ToString()
    {
        var opts = new List<string>();
        if (ExpandToRgb)
        {
            opts.Add("rgb");
        }
        if (ResizeTo is int s)
        {
            opts.Add($"size={s}");
        }
        if (ApplyExifOrientation)
        {
            opts.Add("exif");
        }
        var name = Kind switch
        {
            DatasetKind.ImageFolder => "folder",
            DatasetKind.FashionMnist => "fashion-mnist",
            DatasetKind.Mnist => "mnist",
            DatasetKind.Digits => "digits",
            _ => "opencv-digits",
        };
        return $"{name}:{Path}" + (opts.Count > 0 ? "?" + string.Join('&', opts) : "");
    }
}
