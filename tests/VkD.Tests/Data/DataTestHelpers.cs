using SkiaSharp;
using TorchSharp;
using VkD.Data.Imaging;
using static TorchSharp.torch;

namespace VkD.Tests.Data;

/// <summary>Shared helpers: tensors to images, encoded test files, temporary folders.</summary>
internal static class DataTestHelpers
{
    /// <summary>A uint8 fixture tensor [H, W, C] or [H, W] as an image.</summary>
    public static ImageU8 ToImage(Tensor t)
    {
        int h = (int)t.shape[0], w = (int)t.shape[1], c = t.dim() == 3 ? (int)t.shape[2] : 1;
        var bytes = t.contiguous().data<byte>().ToArray();
        return new ImageU8(w, h, c, bytes);
    }

    /// <summary>Largest absolute difference between two images of equal shape.</summary>
    public static int MaxDiff(ImageU8 a, ImageU8 b)
    {
        Assert.Equal((a.Width, a.Height, a.Channels), (b.Width, b.Height, b.Channels));
        int m = 0;
        for (int i = 0; i < a.Data.Length; i++)
        {
            m = Math.Max(m, Math.Abs(a.Data[i] - b.Data[i]));
        }
        return m;
    }

    /// <summary>A deterministic colourful test image.</summary>
    public static ImageU8 Pattern(int w, int h, int seed = 0, int channels = 3)
    {
        var img = new ImageU8(w, h, channels);
        var rnd = new Random(seed);
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                for (int c = 0; c < channels; c++)
                {
                    var v = (x * (7 + c * 3) + y * (5 + c) + rnd.Next(20)) % 256;
                    img.Data[((y * w) + x) * channels + c] = (byte)v;
                }
            }
        }
        return img;
    }

    /// <summary>Writes a 1-channel image as a greyscale PNG.</summary>
    public static void WriteGreyPng(string path, ImageU8 grey)
    {
        using var bmp = new SKBitmap(new SKImageInfo(grey.Width, grey.Height, SKColorType.Gray8, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(grey.Data, 0, bmp.GetPixels(), grey.Data.Length);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data.ToArray());
    }

    /// <summary>Encodes an image as PNG or JPEG with SkiaSharp and writes it.</summary>
    public static void WriteImage(string path, ImageU8 image, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 90)
    {
        var rgb = image.ToRgb();
        using var bmp = new SKBitmap(new SKImageInfo(rgb.Width, rgb.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = new byte[rgb.Width * rgb.Height * 4];
        for (int i = 0, j = 0; i < rgb.Data.Length; i += 3, j += 4)
        {
            px[j] = rgb.Data[i];
            px[j + 1] = rgb.Data[i + 1];
            px[j + 2] = rgb.Data[i + 2];
            px[j + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(px, 0, bmp.GetPixels(), px.Length);
        using var data = bmp.Encode(format, quality);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data.ToArray());
    }
}

/// <summary>A temporary folder removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vkd-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
