using System.Globalization;
using SkiaSharp;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;

namespace VkD.Detection.Inference;

/// <summary>Draws detections on an image with SkiaSharp: a box per detection in a colour of its category and a
/// filled label "name 0.87" above it (inside the image when the box touches the top).</summary>
public static class DetectionDrawing
{
    // Tableau-like colours that stay readable with white text.
    private static readonly SKColor[] Palette =
    [
        new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40), new(148, 103, 189),
        new(140, 86, 75), new(227, 119, 194), new(127, 127, 127), new(188, 189, 34), new(23, 190, 207),
    ];

    /// <summary>The colour of category <paramref name="categoryId"/>.</summary>
    public static SKColor ColorOf(long categoryId) => Palette[(int)(((categoryId % Palette.Length) + Palette.Length) % Palette.Length)];

    /// <summary>A copy of <paramref name="image"/> with <paramref name="detections"/> drawn; <paramref name="nameOf"/>
    /// gives a category's label.</summary>
    public static DetectionImage Draw(DetectionImage image, IEnumerable<CocoDetection> detections, Func<long, string> nameOf)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(nameOf);
        // Skia draws on premultiplied pixels only: draw the (unpremultiplied) image onto a premultiplied canvas.
        using var source = image.ToBitmap();
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Transparent);
            canvas.DrawBitmap(source, 0, 0);
            var side = Math.Min(image.Width, image.Height);
            var stroke = Math.Max(2f, side / 250f);
            using var font = new SKFont(SKTypeface.Default, Math.Max(11f, side / 45f));
            using var boxPaint = new SKPaint { Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
            using var fillPaint = new SKPaint { Style = SKPaintStyle.Fill, IsAntialias = true };
            using var textPaint = new SKPaint { Color = SKColors.White, IsAntialias = true };
            // Lowest score first, so the best box and its label end up on top.
            foreach (var d in detections.OrderBy(d => d.Score))
            {
                var color = ColorOf(d.CategoryId);
                var rect = new SKRect((float)d.Bbox.X, (float)d.Bbox.Y, (float)(d.Bbox.X + d.Bbox.Width), (float)(d.Bbox.Y + d.Bbox.Height));
                boxPaint.Color = color;
                canvas.DrawRect(rect, boxPaint);
                var label = string.Create(CultureInfo.InvariantCulture, $"{nameOf(d.CategoryId)} {d.Score:0.00}");
                var metrics = font.Metrics;
                var textHeight = metrics.Descent - metrics.Ascent;
                var textWidth = font.MeasureText(label, textPaint);
                var pad = stroke;
                var top = rect.Top - textHeight - (2 * pad) >= 0 ? rect.Top - textHeight - (2 * pad) : rect.Top;
                var left = Math.Clamp(rect.Left, 0, Math.Max(0, image.Width - textWidth - (2 * pad)));
                fillPaint.Color = color;
                canvas.DrawRect(new SKRect(left, top, left + textWidth + (2 * pad), top + textHeight + (2 * pad)), fillPaint);
                canvas.DrawText(label, left + pad, top + pad - metrics.Ascent, SKTextAlign.Left, font, textPaint);
            }
        }
        var rgba = new byte[(long)image.Width * image.Height * 4];
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(rgba, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            var unpremul = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var pixmap = bitmap.PeekPixels();
            if (!pixmap.ReadPixels(unpremul, handle.AddrOfPinnedObject(), unpremul.RowBytes, 0, 0))
            {
                throw new InvalidOperationException($"Skia could not read back the {image.Width}x{image.Height} drawing.");
            }
        }
        finally
        {
            handle.Free();
        }
        return new DetectionImage(image.Width, image.Height, rgba);
    }
}
