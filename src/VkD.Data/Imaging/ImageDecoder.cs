using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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

    /// <summary>
    /// Largest image decoded, in pixels: PIL's <c>DecompressionBombError</c> limit (2 × <c>MAX_IMAGE_PIXELS</c>). Beyond
    /// it a crafted header (a 30000² PNG is a few KB) would make the decoder allocate gigabytes.
    /// </summary>
    public const long MaxPixels = 178_956_970;

    /// <summary>
    /// A cheap check of an image file without decoding its pixels: empty, unknown format, bad or oversized dimensions,
    /// and truncation (a JPEG without its end marker or a PNG without IEND near the end is decoded in full to be sure,
    /// since some writers append data after the image). Returns the reason the file is bad, or null when it is fine.
    /// </summary>
    public static string? Inspect(string path)
    {
        byte[] head, tail;
        long length;
        try
        {
            // Headers (JPEG's EXIF thumbnail included) fit in the first 256 KB; the end marker is in the last 1 KB.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            length = stream.Length;
            head = new byte[(int)Math.Min(length, 256 * 1024)];
            stream.ReadExactly(head);
            tail = new byte[(int)Math.Min(length, 1024)];
            stream.Position = length - tail.Length;
            stream.ReadExactly(tail);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
        if (length == 0)
        {
            return "the file is empty";
        }
        if (HeaderProblem(head, out var format) is { } problem)
        {
            // A header longer than the first read is rare; only then is the whole file read.
            if (head.Length == length || HeaderProblem(File.ReadAllBytes(path), out format) is not null)
            {
                return problem;
            }
        }
        if (!LooksComplete(tail, format))
        {
            try
            {
                DecodeFile(path);
            }
            catch (ImageDecodeException e)
            {
                return e.Message[(e.Message.IndexOf("': ", StringComparison.Ordinal) + 3)..];
            }
        }
        return null;
    }

    private static unsafe string? HeaderProblem(byte[] bytes, out SKEncodedImageFormat format)
    {
        format = default;
        fixed (byte* p = bytes)
        {
            using var data = SKData.Create((IntPtr)p, bytes.Length);
            using var codec = SKCodec.Create(data);
            if (codec is null)
            {
                return "not a recognised image format";
            }
            format = codec.EncodedFormat;
            return SizeProblem(codec.Info.Width, codec.Info.Height);
        }
    }

    private static bool LooksComplete(ReadOnlySpan<byte> tail, SKEncodedImageFormat format)
    {
        return format switch
        {
            SKEncodedImageFormat.Jpeg => tail.IndexOf([(byte)0xFF, (byte)0xD9]) >= 0,
            SKEncodedImageFormat.Png => tail.IndexOf("IEND"u8) >= 0,
            _ => false,
        };
    }

    private static string? SizeProblem(int width, int height) =>
        width <= 0 || height <= 0 ? $"invalid size {width}x{height}"
        : (long)width * height > MaxPixels ? $"{width}x{height} is larger than {MaxPixels:N0} pixels (PIL's decompression-bomb limit)"
        : null;

    private static void CheckSize(int width, int height, string name)
    {
        if (SizeProblem(width, height) is { } problem)
        {
            throw new ImageDecodeException(name, problem);
        }
    }

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
            CheckSize(info.Width, info.Height, name);
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
                int pixels = info.Width * info.Height;
                // The RGBA scratch buffer is pooled: it is large-object-heap sized for photos and lives only here.
                var rgba = ArrayPool<byte>.Shared.Rent(pixels * 4);
                try
                {
                    fixed (byte* dst = rgba)
                    {
                        Check(codec.GetPixels(target, (IntPtr)dst), name);
                    }
                    image = new ImageU8(info.Width, info.Height, 3, GC.AllocateUninitializedArray<byte>(pixels * 3));
                    PackRgb(rgba.AsSpan(0, pixels * 4), image.Data);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(rgba);
                }
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

    /// <summary>RGBA to RGB; 4 pixels per SSSE3 shuffle where available.</summary>
    internal static unsafe void PackRgb(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        var src = MemoryMarshal.Cast<byte, uint>(rgba);
        int n = src.Length, i = 0, j = 0;
        if (Ssse3.IsSupported && n >= 8)
        {
            var mask = Vector128.Create((byte)0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0x80, 0x80, 0x80, 0x80);
            fixed (byte* s = rgba, d = rgb)
            {
                // Each step writes 16 bytes of which 12 are valid; stop early enough that the overrun stays inside.
                for (; i + 6 <= n; i += 4, j += 12)
                {
                    var v = Sse2.LoadVector128(s + i * 4);
                    Sse2.Store(d + j, Ssse3.Shuffle(v, mask));
                }
            }
        }
        for (; i < n; i++, j += 3)
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
