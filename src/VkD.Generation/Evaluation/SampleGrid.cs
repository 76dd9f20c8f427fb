using SkiaSharp;
using static TorchSharp.torch;

namespace VkD.Generation.Evaluation;

/// <summary>A grid of generated images as PNG: row r, column c is image <c>r · columns + c</c> (one row per class
/// when the labels go row by row), with a 1 px dark border between tiles.</summary>
public static class SampleGrid
{
    /// <summary>Writes <paramref name="images"/> [N, 1|3, H, W] in [-1, 1] to <paramref name="path"/>.</summary>
    public static void Write(string path, Tensor images, int columns)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var png = Encode(images, columns);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, png);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The PNG bytes of the grid.</summary>
    public static byte[] Encode(Tensor images, int columns)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.ndim != 4 || images.shape[1] is not (1 or 3) || images.shape[0] == 0)
        {
            throw new ArgumentException($"A sample grid takes images [N > 0, 1|3, H, W], got [{string.Join(", ", images.shape)}].", nameof(images));
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        var (n, c, h, w) = ((int)images.shape[0], (int)images.shape[1], (int)images.shape[2], (int)images.shape[3]);
        var rows = (n + columns - 1) / columns;
        var width = columns * (w + 1) + 1;
        var height = rows * (h + 1) + 1;
        byte[] pixels;
        using (var scope = NewDisposeScope())
        {
            var u8 = ((images.detach().to(float32, CPU).clamp(-1, 1) + 1) * 127.5).round().to(ScalarType.Byte);
            pixels = u8.permute(0, 2, 3, 1).contiguous().data<byte>().ToArray();
        }
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var canvas = new byte[width * height * 4];
        for (var i = 0; i < canvas.Length; i += 4)
        {
            canvas[i] = canvas[i + 1] = canvas[i + 2] = 32;
            canvas[i + 3] = 255;
        }
        for (var k = 0; k < n; k++)
        {
            var (r, col) = (k / columns, k % columns);
            for (var y = 0; y < h; y++)
            {
                for (var x = 0; x < w; x++)
                {
                    var src = ((k * h + y) * w + x) * c;
                    var dst = (((r * (h + 1)) + 1 + y) * width + (col * (w + 1)) + 1 + x) * 4;
                    canvas[dst] = pixels[src];
                    canvas[dst + 1] = pixels[src + (c == 3 ? 1 : 0)];
                    canvas[dst + 2] = pixels[src + (c == 3 ? 2 : 0)];
                }
            }
        }
        System.Runtime.InteropServices.Marshal.Copy(canvas, 0, bitmap.GetPixels(), canvas.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
