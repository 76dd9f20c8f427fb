using System.Buffers.Binary;
using System.IO.Compression;

namespace VkD.Data.Datasets;

/// <summary>MNIST-style IDX files (<c>train-images-idx3-ubyte[.gz]</c> and friends), raw or gzip (detected by content).
/// Images (magic 0x00000803, N x rows x cols uint8) and labels (magic 0x00000801, N uint8) stay in memory as bytes.</summary>
public sealed class IdxDataset : ArrayImageDataset
{
    /// <summary>Fashion-MNIST class names, in label order.</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Digit class names "0".."9".</summary>
    public static IReadOnlyList<string> DigitClasses { get; } = Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();

    private IdxDataset(byte[] pixels, int[] labels, int rows, int cols, IReadOnlyList<string> classes, string source)
        : base(pixels, labels, rows, cols, 1, classes, source)
    {
    }

    /// <summary>Reads an image file and a label file; their counts must agree.</summary>
    public static IdxDataset Load(string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        var images = ReadAll(imagesPath);
        var labels = ReadAll(labelsPath);
        var (n, rows, cols) = ParseImagesHeader(images, imagesPath);
        int count = ParseLabelsHeader(labels, labelsPath);
        if (count != n)
        {
            throw new InvalidDataException($"IDX label file '{labelsPath}' has {count} labels but image file '{imagesPath}' has {n} images.");
        }
        var pixels = images.AsSpan(16).ToArray();
        var lab = new int[n];
        for (int i = 0; i < n; i++)
        {
            lab[i] = labels[8 + i];
        }
        int maxLabel = n == 0 ? 0 : lab.Max();
        var classes = classNames ?? Enumerable.Range(0, Math.Max(10, maxLabel + 1)).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (maxLabel >= classes.Count)
        {
            throw new InvalidDataException($"IDX label file '{labelsPath}' has label {maxLabel} but only {classes.Count} classes are known.");
        }
        return new IdxDataset(pixels, lab, rows, cols, classes, imagesPath);
    }

    /// <summary>Opens an MNIST-layout folder: <c>{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]</c>.</summary>
    public static IdxDataset OpenFolder(string folder, DataSplit split, IReadOnlyList<string>? classNames = null)
    {
        var prefix = split == DataSplit.Train ? "train" : "t10k";
        return Load(Find(folder, $"{prefix}-images-idx3-ubyte"), Find(folder, $"{prefix}-labels-idx1-ubyte"), classNames);
    }

    private static string Find(string folder, string stem)
    {
        foreach (var candidate in new[] { stem, stem + ".gz", stem.Replace("-idx", ".idx", StringComparison.Ordinal), stem.Replace("-idx", ".idx", StringComparison.Ordinal) + ".gz" })
        {
            var p = Path.Combine(folder, candidate);
            if (File.Exists(p))
            {
                return p;
            }
        }
        throw new FileNotFoundException($"IDX folder '{Path.GetFullPath(folder)}' has no '{stem}' or '{stem}.gz'.", Path.Combine(folder, stem));
    }

    /// <summary>Reads a whole file, gunzipping it when it starts with the gzip magic (1f 8b).</summary>
    internal static byte[] ReadAll(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        }
        var raw = File.ReadAllBytes(path);
        if (raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
        {
            try
            {
                using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
                using var ms = new MemoryStream();
                gz.CopyTo(ms);
                return ms.ToArray();
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"IDX file '{path}' is not a valid gzip stream: {e.Message}", e);
            }
        }
        return raw;
    }

    private static (int N, int Rows, int Cols) ParseImagesHeader(byte[] data, string path)
    {
        if (data.Length < 16)
        {
            throw new InvalidDataException($"IDX image file '{path}' is too short for a header ({data.Length} bytes).");
        }
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (magic != 0x00000803)
        {
            throw new InvalidDataException($"IDX image file '{path}' has magic 0x{magic:X8}, expected 0x00000803 (uint8, 3 dims).");
        }
        int n = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
        int rows = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(8));
        int cols = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(12));
        long expected = 16L + (long)n * rows * cols;
        if (n < 0 || rows <= 0 || cols <= 0 || data.LongLength != expected)
        {
            throw new InvalidDataException($"IDX image file '{path}' declares {n} images of {rows}x{cols} ({expected} bytes) but has {data.LongLength} bytes.");
        }
        return (n, rows, cols);
    }

    private static int ParseLabelsHeader(byte[] data, string path)
    {
        if (data.Length < 8)
        {
            throw new InvalidDataException($"IDX label file '{path}' is too short for a header ({data.Length} bytes).");
        }
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (magic != 0x00000801)
        {
            throw new InvalidDataException($"IDX label file '{path}' has magic 0x{magic:X8}, expected 0x00000801 (uint8, 1 dim).");
        }
        int n = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
        if (n < 0 || data.LongLength != 8L + n)
        {
            throw new InvalidDataException($"IDX label file '{path}' declares {n} labels ({8L + n} bytes) but has {data.LongLength} bytes.");
        }
        return n;
    }
}
