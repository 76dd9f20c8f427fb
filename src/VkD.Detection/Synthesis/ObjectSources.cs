using System.Collections.Concurrent;
using VkD.Data.Datasets;
using VkD.Detection.Data;

namespace VkD.Detection.Synthesis;

/// <summary>A pool of real objects to paste: each is an RGBA cut-out whose alpha is the object's mask.</summary>
public interface IObjectSource
{
    /// <summary>Class names; an object's class index points here (category id = index + 1).</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of objects.</summary>
    int Count { get; }

    /// <summary>Whether objects are glyphs (white on transparent) that the generator should tint.</summary>
    bool IsGlyph { get; }

    /// <summary>The object at <paramref name="index"/> and its class index. Must be thread-safe.</summary>
    (DetectionImage Cutout, int ClassIndex) Get(int index);
}

/// <summary>Glyphs from an IDX image/label pair (MNIST, Fashion-MNIST): intensity becomes alpha.</summary>
public sealed class IdxGlyphSource : IObjectSource
{
    private readonly IdxDataset _glyphs;

    /// <summary>Reads the two IDX files (gz or raw) through VkD.Data's IDX reader.</summary>
    /// <param name="imagesPath">[N, H, W] images.</param>
    /// <param name="labelsPath">[N] labels.</param>
    /// <param name="classNames">Names for labels 0..C-1; null names them "0", "1", ... after the largest label.</param>
    /// <exception cref="InvalidDataException">The files are not IDX or do not fit together.</exception>
    public IdxGlyphSource(string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        _glyphs = IdxDataset.Load(imagesPath, labelsPath, classNames);
        if (classNames is null)
        {
            // Only the classes that occur become categories (the dataset's default pads to ten digit classes).
            var classes = _glyphs.Count == 0 ? 0 : Enumerable.Range(0, _glyphs.Count).Max(_glyphs.GetLabel) + 1;
            classNames = Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        ClassNames = classNames;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public int Count => _glyphs.Count;

    /// <inheritdoc />
    public bool IsGlyph => true;

    /// <inheritdoc />
    public (DetectionImage Cutout, int ClassIndex) Get(int index)
    {
        var glyph = _glyphs.LoadImage(index);
        return (GlyphToCutout(glyph.Data, glyph.Width, glyph.Height), _glyphs.GetLabel(index));
    }

    /// <summary>Fashion-MNIST's class names.</summary>
    public static IReadOnlyList<string> FashionMnistClasses => IdxDataset.FashionMnistClasses;

    internal static DetectionImage GlyphToCutout(ReadOnlySpan<byte> grey, int width, int height)
    {
        var rgba = new byte[width * height * 4];
        for (var p = 0; p < grey.Length; p++)
        {
            rgba[p * 4] = rgba[(p * 4) + 1] = rgba[(p * 4) + 2] = 255;
            rgba[(p * 4) + 3] = grey[p];
        }
        return new DetectionImage(width, height, rgba);
    }
}

/// <summary>OpenCV's <c>samples/data/digits.png</c>: 5000 MNIST digits in 20x20 cells (50 rows x 100 columns), each
/// class filling 5 consecutive rows.</summary>
public sealed class DigitsPngGlyphSource : IObjectSource
{
    private const int Cell = 20;
    private readonly DetectionImage _sheet;
    private readonly int _columns;
    private readonly int _rows;

    /// <summary>Loads the sheet.</summary>
    /// <exception cref="InvalidDataException">The image is not a grid of 20x20 cells with a multiple of 10 rows.</exception>
    public DigitsPngGlyphSource(string path)
    {
        _sheet = DetectionImage.Load(path);
        _columns = _sheet.Width / Cell;
        _rows = _sheet.Height / Cell;
        if (_sheet.Width % Cell != 0 || _sheet.Height % Cell != 0 || _rows % 10 != 0)
        {
            throw new InvalidDataException($"{path}: {_sheet.Width}x{_sheet.Height} is not a grid of 20x20 cells with 10 classes of equal rows.");
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; } = Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <inheritdoc />
    public int Count => _columns * _rows;

    /// <inheritdoc />
    public bool IsGlyph => true;

    /// <inheritdoc />
    public (DetectionImage Cutout, int ClassIndex) Get(int index)
    {
        int row = index / _columns, col = index % _columns;
        var grey = new byte[Cell * Cell];
        for (var y = 0; y < Cell; y++)
        {
            for (var x = 0; x < Cell; x++)
            {
                grey[(y * Cell) + x] = _sheet.Rgba[((((row * Cell) + y) * _sheet.Width) + (col * Cell) + x) * 4];
            }
        }
        return (IdxGlyphSource.GlyphToCutout(grey, Cell, Cell), row / (_rows / 10));
    }
}

/// <summary>PNG cut-outs with alpha in class folders, e.g. Debian's <c>tuxpaint-stamps-default</c>
/// (<c>/usr/share/tuxpaint/stamps/&lt;category&gt;/.../*.png</c>): the first folder level under the root names the class.
/// Cut-outs are decoded on first use and kept, shrunk to at most <see cref="MaxSide"/> pixels.</summary>
public sealed class StampSource : IObjectSource
{
    private readonly (string Path, int ClassIndex)[] _files;
    private readonly ConcurrentDictionary<int, DetectionImage> _cache = new();

    /// <summary>Indexes the PNG files under <paramref name="root"/> (sorted by path, so indices are stable).</summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <exception cref="InvalidDataException">No PNG files in class folders.</exception>
    public StampSource(string root, int maxSide = 256)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Stamp folder not found: {root}");
        }
        MaxSide = maxSide;
        var files = Directory.GetFiles(root, "*.png", SearchOption.AllDirectories)
            .Select(f => (Path: f, Class: Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar)[0]))
            .Where(f => f.Class != Path.GetFileName(f.Path))
            .OrderBy(f => f.Path, StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new InvalidDataException($"{root}: no PNG files inside class folders.");
        }
        ClassNames = files.Select(f => f.Class).Distinct().Order(StringComparer.Ordinal).ToArray();
        var classIndex = ClassNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i);
        _files = files.Select(f => (f.Path, classIndex[f.Class])).ToArray();
    }

    /// <summary>Longest side kept in memory.</summary>
    public int MaxSide { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public int Count => _files.Length;

    /// <inheritdoc />
    public bool IsGlyph => false;

    /// <inheritdoc />
    public (DetectionImage Cutout, int ClassIndex) Get(int index)
    {
        var image = _cache.GetOrAdd(index, i =>
        {
            var img = DetectionImage.Load(_files[i].Path);
            var scale = (double)MaxSide / Math.Max(img.Width, img.Height);
            return scale < 1
                ? img.Resize(Math.Max(1, (int)Math.Round(img.Width * scale)), Math.Max(1, (int)Math.Round(img.Height * scale)))
                : img;
        });
        return (image, _files[index].ClassIndex);
    }
}
