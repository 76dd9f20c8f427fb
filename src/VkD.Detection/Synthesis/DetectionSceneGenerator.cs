using System.Globalization;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;

namespace VkD.Detection.Synthesis;

/// <summary>Settings of <see cref="DetectionSceneGenerator"/>.</summary>
public sealed record DetectionSceneOptions
{
    /// <summary>Number of images.</summary>
    public int ImageCount { get; init; } = 1000;

    /// <summary>Canvas width in pixels.</summary>
    public int Width { get; init; } = 128;

    /// <summary>Canvas height in pixels.</summary>
    public int Height { get; init; } = 128;

    /// <summary>Fewest objects per image.</summary>
    public int MinObjects { get; init; } = 1;

    /// <summary>Most objects per image (fewer when no free place is found).</summary>
    public int MaxObjects { get; init; } = 6;

    /// <summary>Smallest longer side of a pasted object, pixels.</summary>
    public int MinObjectSize { get; init; } = 16;

    /// <summary>Largest longer side of a pasted object, pixels.</summary>
    public int MaxObjectSize { get; init; } = 64;

    /// <summary>Largest IoU a new object's box may have with an earlier one (occlusion control).</summary>
    public double MaxOverlap { get; init; } = 0.1;

    /// <summary>Alpha (0-255) from which a pixel belongs to the object's mask, box and area.</summary>
    public byte MaskThreshold { get; init; } = 64;

    /// <summary>Seed; image i is drawn from a generator seeded by (seed, i), so output does not depend on threading.</summary>
    public long Seed { get; init; }

    /// <summary>Folder under the output for the images.</summary>
    public string ImageFolder { get; init; } = "images";
}

/// <summary>
/// Composes real objects (digit/clothing glyphs, photo cut-outs) onto textured canvases at random scales and positions
/// and writes a COCO detection set: <c>images/NNNNNN.png</c> and <c>annotations.json</c> with tight boxes and mask
/// areas taken from the pasted alpha. Category ids are 1..C (0 stays free as DETR/ViDT expect).
/// </summary>
public static class DetectionSceneGenerator
{
    /// <summary>Generates the set into <paramref name="outputDir"/> and returns its ground truth.</summary>
    /// <exception cref="ArgumentException">Inconsistent options.</exception>
    public static CocoDataset Generate(IObjectSource source, DetectionSceneOptions options, string outputDir)
    {
        Validate(source, options);
        var imageDir = Path.Combine(outputDir, options.ImageFolder);
        Directory.CreateDirectory(imageDir);
        var perImage = new List<(BoxXywh Box, double Area, int ClassIndex)>[options.ImageCount];
        Parallel.For(0, options.ImageCount, i =>
        {
            var (canvas, objects) = Compose(source, options, i);
            canvas.SavePng(Path.Combine(imageDir, FileName(i)));
            perImage[i] = objects;
        });
        var images = new List<CocoImage>(options.ImageCount);
        var annotations = new List<CocoAnnotation>();
        for (var i = 0; i < options.ImageCount; i++)
        {
            images.Add(new CocoImage(i + 1, $"{options.ImageFolder}/{FileName(i)}", options.Width, options.Height));
            foreach (var (box, area, cls) in perImage[i])
            {
                annotations.Add(new CocoAnnotation(annotations.Count + 1, i + 1, cls + 1, box, area, false));
            }
        }
        var categories = source.ClassNames.Select((n, c) => new CocoCategory(c + 1, n, null)).ToList();
        var dataset = new CocoDataset(images, annotations, categories, Path.Combine(outputDir, "annotations.json"));
        dataset.Save(Path.Combine(outputDir, "annotations.json"));
        return dataset;
    }

    /// <summary>Draws image <paramref name="index"/>: the canvas and its objects (box, mask area, class index).</summary>
    public static (DetectionImage Canvas, List<(BoxXywh Box, double Area, int ClassIndex)> Objects) Compose(
        IObjectSource source, DetectionSceneOptions options, int index)
    {
        var rng = CocoDetectionDataset.ExampleRandom(options.Seed, index);
        var canvas = Background(options.Width, options.Height, rng);
        var objects = new List<(BoxXywh Box, double Area, int ClassIndex)>();
        var wanted = rng.Next(options.MinObjects, options.MaxObjects + 1);
        for (var attempt = 0; objects.Count < wanted && attempt < wanted * 20; attempt++)
        {
            var (cutout, cls) = source.Get(rng.Next(source.Count));
            var side = rng.Next(options.MinObjectSize, options.MaxObjectSize + 1);
            var scale = (double)side / Math.Max(cutout.Width, cutout.Height);
            int w = Math.Max(1, (int)Math.Round(cutout.Width * scale)), h = Math.Max(1, (int)Math.Round(cutout.Height * scale));
            if (w > options.Width || h > options.Height)
            {
                continue;
            }
            var resized = cutout.Resize(w, h);
            var bounds = MaskBounds(resized, options.MaskThreshold);
            if (bounds is not { } b)
            {
                continue;
            }
            int left = rng.Next(options.Width - w + 1), top = rng.Next(options.Height - h + 1);
            var box = new BoxXywh(left + b.X0, top + b.Y0, b.X1 - b.X0, b.Y1 - b.Y0);
            if (objects.Any(o => Iou(o.Box, box) > options.MaxOverlap))
            {
                continue;
            }
            var tint = source.IsGlyph ? GlyphColor(rng) : ((byte)255, (byte)255, (byte)255);
            Paste(canvas, resized, left, top, tint);
            objects.Add((box, b.MaskPixels, cls));
        }
        return (canvas, objects);
    }

    private static void Validate(IObjectSource source, DetectionSceneOptions o)
    {
        if (source.Count == 0)
        {
            throw new ArgumentException("The object source is empty.", nameof(source));
        }
        if (o.ImageCount < 1 || o.Width < 16 || o.Height < 16)
        {
            throw new ArgumentException($"Need at least one image of at least 16x16 (got {o.ImageCount} of {o.Width}x{o.Height}).", nameof(o));
        }
        if (o.MinObjects < 0 || o.MaxObjects < o.MinObjects)
        {
            throw new ArgumentException($"Object count range [{o.MinObjects}, {o.MaxObjects}] is invalid.", nameof(o));
        }
        if (o.MinObjectSize < 2 || o.MaxObjectSize < o.MinObjectSize || o.MinObjectSize > Math.Min(o.Width, o.Height))
        {
            throw new ArgumentException($"Object size range [{o.MinObjectSize}, {o.MaxObjectSize}] does not fit a {o.Width}x{o.Height} canvas.", nameof(o));
        }
    }

    private static string FileName(int index) => index.ToString("D6", CultureInfo.InvariantCulture) + ".png";

    /// <summary>A smooth two-colour gradient with mild noise: enough texture that boxes are not found by colour alone.</summary>
    private static DetectionImage Background(int width, int height, Random rng)
    {
        var c0 = new[] { rng.Next(256), rng.Next(256), rng.Next(256) };
        var c1 = new[] { rng.Next(256), rng.Next(256), rng.Next(256) };
        var angle = rng.NextDouble() * Math.PI * 2;
        double dx = Math.Cos(angle), dy = Math.Sin(angle);
        var rgba = new byte[width * height * 4];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var t = 0.5 + (0.5 * (((x - (width / 2.0)) * dx) + ((y - (height / 2.0)) * dy)) / Math.Max(width, height));
                var p = ((y * width) + x) * 4;
                for (var c = 0; c < 3; c++)
                {
                    var v = (c0[c] * (1 - t)) + (c1[c] * t) + rng.Next(-12, 13);
                    rgba[p + c] = (byte)Math.Clamp((int)Math.Round(v), 0, 255);
                }
                rgba[p + 3] = 255;
            }
        }
        return new DetectionImage(width, height, rgba);
    }

    private static (byte, byte, byte) GlyphColor(Random rng)
    {
        // Saturated colours or near-white/near-black, so glyphs stand out from most backgrounds.
        return rng.Next(3) switch
        {
            0 => ((byte)rng.Next(200, 256), (byte)rng.Next(200, 256), (byte)rng.Next(200, 256)),
            1 => ((byte)rng.Next(0, 50), (byte)rng.Next(0, 50), (byte)rng.Next(0, 50)),
            _ => ((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)),
        };
    }

    private static (int X0, int Y0, int X1, int Y1, int MaskPixels)? MaskBounds(DetectionImage cutout, byte threshold)
    {
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1, count = 0;
        for (var y = 0; y < cutout.Height; y++)
        {
            for (var x = 0; x < cutout.Width; x++)
            {
                if (cutout.Rgba[(((y * cutout.Width) + x) * 4) + 3] >= threshold)
                {
                    x0 = Math.Min(x0, x);
                    y0 = Math.Min(y0, y);
                    x1 = Math.Max(x1, x + 1);
                    y1 = Math.Max(y1, y + 1);
                    count++;
                }
            }
        }
        return count == 0 ? null : (x0, y0, x1, y1, count);
    }

    private static void Paste(DetectionImage canvas, DetectionImage cutout, int left, int top, (byte R, byte G, byte B) tint)
    {
        for (var y = 0; y < cutout.Height; y++)
        {
            for (var x = 0; x < cutout.Width; x++)
            {
                var s = ((y * cutout.Width) + x) * 4;
                var a = cutout.Rgba[s + 3] / 255.0;
                if (a <= 0)
                {
                    continue;
                }
                var d = ((((top + y) * canvas.Width) + left + x) * 4);
                canvas.Rgba[d] = Blend(canvas.Rgba[d], cutout.Rgba[s] * tint.R / 255, a);
                canvas.Rgba[d + 1] = Blend(canvas.Rgba[d + 1], cutout.Rgba[s + 1] * tint.G / 255, a);
                canvas.Rgba[d + 2] = Blend(canvas.Rgba[d + 2], cutout.Rgba[s + 2] * tint.B / 255, a);
            }
        }
    }

    private static byte Blend(byte under, int over, double alpha) =>
        (byte)Math.Clamp((int)Math.Round((under * (1 - alpha)) + (over * alpha)), 0, 255);

    private static double Iou(BoxXywh a, BoxXywh b)
    {
        var w = Math.Min(a.X + a.Width, b.X + b.Width) - Math.Max(a.X, b.X);
        var h = Math.Min(a.Y + a.Height, b.Y + b.Height) - Math.Max(a.Y, b.Y);
        if (w <= 0 || h <= 0)
        {
            return 0;
        }
        var i = w * h;
        return i / ((a.Width * a.Height) + (b.Width * b.Height) - i);
    }
}
