using System.Runtime.InteropServices;
using SkiaSharp;

namespace VkD.Data.Imaging;

/// <summary>Decodes JPEG, PNG, BMP, WebP and GIF (first frame) files with SkiaSharp into <see cref="ImageU8"/>.</summary>
/// <remarks>
/// Like torchvision's <c>pil_loader</c> (<c>Image.open(f).convert("RGB")</c>), alpha is dropped without compositing,
/// embedded colour profiles are ignored, and by default the EXIF orientation tag is ignored too (PIL does not apply it);
/// pass <c>applyExifOrientation: true</c> to rotate/flip camera photos upright. A file Skia cannot fully decode
/// (including a truncated JPEG, which Skia reports as incomplete input) raises <see cref="ImageDecodeException"/>.
/// </remarks>
public static class ImageDecoder
{
    /// <summary>File extensions (lower case, with dot) treated as images by the folder dataset.</summary>
    public static IReadOnlySet<string> Extensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif" };

    /// <summary>Decodes a file; grey images stay 1-channel unless <paramref name="forceRgb"/>.</summary>
    public static ImageU8 DecodeFile(string path, bool forceRgb = true, bool applyExifOrientation = false)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ImageDecodeException(path, e.Message, e);
        }
        return Decode(bytes, path, forceRgb, applyExifOrientation);
    }

    /// <summary>Decodes encoded bytes; <paramref name="name"/> is used in error messages.</summary>
    public static unsafe ImageU8 Decode(byte[] encoded, string name, bool forceRgb = true, bool applyExifOrientation = false)
    {
        if (encoded.Length == 0)
        {
            throw new ImageDecodeException(name, "the file is empty");
        }
        fixed (byte* p = encoded)
        {
            using var data = SKData.Create((IntPtr)p, encoded.Length);
            using var codec = SKCodec.Create(data) ?? throw new ImageDecodeException(name, "not a recognised image format");
            var info = codec.Info;
            if (info.Width <= 0 || info.Height <= 0)
            {
                throw new ImageDecodeException(name, $"invalid size {info.Width}x{info.Height}");
            }
            bool grey = info.ColorType == SKColorType.Gray8;
            ImageU8 image;
            if (grey)
            {
                image = new ImageU8(info.Width, info.Height, 1);
                var target = new SKImageInfo(info.Width, info.Height, SKColorType.Gray8, SKAlphaType.Opaque);
                fixed (byte* dst = image.Data)
                {
                    Check(codec.GetPixels(target, (IntPtr)dst), name);
                }
                if (forceRgb)
                {
                    image = image.ToRgb();
                }
            }
            else
            {
                var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
                var rgba = new byte[info.Width * info.Height * 4];
                fixed (byte* dst = rgba)
                {
                    Check(codec.GetPixels(target, (IntPtr)dst), name);
                }
                image = new ImageU8(info.Width, info.Height, 3);
                PackRgb(rgba, image.Data);
            }
            return applyExifOrientation ? Orient(image, codec.EncodedOrigin) : image;
        }
    }

    private static void Check(SKCodecResult result, string name)
    {
        if (result != SKCodecResult.Success)
        {
            var reason = result == SKCodecResult.IncompleteInput ? "the file is truncated (incomplete input)" : $"decoder reported {result}";
            throw new ImageDecodeException(name, reason);
        }
    }

    private static void PackRgb(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        var src = MemoryMarshal.Cast<byte, uint>(rgba);
        int n = src.Length, j = 0;
        for (int i = 0; i < n; i++, j += 3)
        {
            var v = src[i];
            rgb[j] = (byte)v;
            rgb[j + 1] = (byte)(v >> 8);
            rgb[j + 2] = (byte)(v >> 16);
        }
    }

    /// <summary>Turns a stored image upright according to its EXIF origin.</summary>
    internal static ImageU8 Orient(ImageU8 image, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default)
        {
            return image;
        }
        bool swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int w = image.Width, h = image.Height, c = image.Channels;
        int ow = swap ? h : w, oh = swap ? w : h;
        var dst = new ImageU8(ow, oh, c);
        for (int y = 0; y < oh; y++)
        {
            for (int x = 0; x < ow; x++)
            {
                // (sx, sy) is the stored pixel that lands at upright (x, y).
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, h - 1 - x),
                    SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
                    SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
                    _ => (x, y),
                };
                Buffer.BlockCopy(image.Data, (sy * w + sx) * c, dst.Data, (y * ow + x) * c, c);
            }
        }
        return dst;
    }
}
