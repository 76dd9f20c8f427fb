using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>Small datasets held as one uint8 array of N images (N x H x W x C) plus labels (IDX, CSV, OpenCV digits).
/// <see cref="LoadImage"/> copies one image out, so callers may modify it.</summary>
public class ArrayImageDataset : IImageDataset
{
    private readonly byte[] _pixels;
    private readonly int[] _labels;
    private readonly int[] _order;
    private readonly string _source;

    /// <summary>Wraps the arrays; <paramref name="selection"/> picks (and orders) a subset of the stored images.</summary>
    public ArrayImageDataset(byte[] pixels, int[] labels, int height, int width, int channels,
        IReadOnlyList<string> classNames, string source, int[]? selection = null)
    {
        long per = (long)height * width * channels;
        if (pixels.LongLength != per * labels.Length)
        {
            throw new InvalidDataException($"{source}: {pixels.LongLength} pixel bytes do not hold {labels.Length} images of {height}x{width}x{channels}.");
        }
        if (labels.Any(l => l < 0 || l >= classNames.Count))
        {
            throw new InvalidDataException($"{source}: label {labels.First(l => l < 0 || l >= classNames.Count)} is outside 0..{classNames.Count - 1}.");
        }
        _pixels = pixels;
        _labels = labels;
        Height = height;
        Width = width;
        Channels = channels;
        ClassNames = classNames;
        _source = source;
        _order = selection ?? Enumerable.Range(0, labels.Length).ToArray();
    }

    /// <summary>Image height.</summary>
    public int Height { get; }

    /// <summary>Image width.</summary>
    public int Width { get; }

    /// <summary>Channels per stored image.</summary>
    public int Channels { get; }

    /// <inheritdoc />
    public int Count => _order.Length;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The position of image <paramref name="index"/> in the stored arrays.</summary>
    public int StoredIndex(int index) => _order[index];

    /// <inheritdoc />
    public int GetLabel(int index) => _labels[_order[index]];

    /// <inheritdoc />
    public ImageU8 LoadImage(int index)
    {
        int per = Height * Width * Channels;
        var data = new byte[per];
        Buffer.BlockCopy(_pixels, _order[index] * per, data, 0, per);
        return new ImageU8(Width, Height, Channels, data);
    }

    /// <inheritdoc />
    public string Describe(int index) => $"{_source}#{_order[index]}";
}
