using System.Runtime.InteropServices;
using SkiaSharp;

namespace VkD.Detection.Data;

/// <summary>
/// An 8-bit RGBA image in row-major order, the pixel form the detection transforms work on (flip and crop copy pixels
/// exactly; resizing goes through Skia). Alpha is kept for cut-outs and ignored when the image becomes a tensor,
/// as PIL's <c>convert('RGB')</c> does.
/// </summary>
public sealed class DetectionImage
{
    /// <summary>Wraps RGBA pixels (4 bytes per pixel, rows of <paramref name="width"/> pixels).</summary>
    /// <exception cref="ArgumentException">The buffer does not hold width x height x 4 bytes.</exception>
    public DetectionImage(int width, int height, byte[] rgba)
    {
        if (width <= 0 || height <= 0 || rgba.Length != (long)width * height * 4)
        {
            throw new ArgumentException($"An RGBA image of {width}x{height} needs {(long)width * height * 4} bytes, got {rgba.Length}.");
        }
        Width = width;
        Height = height;
        Rgba = rgba;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Pixels, RGBA, row-major.</summary>
    public byte[] Rgba { get; }

    /// <summary>Decodes an image file (JPEG, PNG, ...) with SkiaSharp; EXIF orientation is not applied, as in PIL.</summary>
    /// <exception cref="InvalidDataException">The file cannot be decoded.</exception>
    public static DetectionImage Load(string path)
    {
        using var codec = SKCodec.Create(path) ?? throw new InvalidDataException($"{path}: not a decodable image.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = SKBitmap.Decode(codec, info) ?? throw new InvalidDataException($"{path}: decoding failed.");
        return new DetectionImage(bitmap.Width, bitmap.Height, bitmap.GetPixelSpan().ToArray());
    }

    /// <summary>Encodes the image as PNG.</summary>
    public void SavePng(string path)
    {
        using var bitmap = ToBitmap();
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var stream = File.Create(path);
        data.SaveTo(stream);
    }

    /// <summary>Resamples to <paramref name="width"/> x <paramref name="height"/> with mipmapped bilinear filtering
    /// (Skia's closest match to PIL's antialiased bilinear resize).</summary>
    public DetectionImage Resize(int width, int height)
    {
        if (width == Width && height == Height)
        {
            return new DetectionImage(width, height, (byte[])Rgba.Clone());
        }
        var output = new byte[(long)width * height * 4];
        var srcHandle = GCHandle.Alloc(Rgba, GCHandleType.Pinned);
        var dstHandle = GCHandle.Alloc(output, GCHandleType.Pinned);
        try
        {
            using var src = new SKPixmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul), srcHandle.AddrOfPinnedObject());
            using var dst = new SKPixmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul), dstHandle.AddrOfPinnedObject());
            if (!src.ScalePixels(dst, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)))
            {
                throw new InvalidOperationException($"Skia could not resize {Width}x{Height} to {width}x{height}.");
            }
        }
        finally
        {
            srcHandle.Free();
            dstHandle.Free();
        }
        return new DetectionImage(width, height, output);
    }

    /// <summary>Mirrors left-right.</summary>
    public DetectionImage FlipHorizontal()
    {
        var output = new byte[Rgba.Length];
        var src = MemoryMarshal.Cast<byte, int>(Rgba.AsSpan());
        var dst = MemoryMarshal.Cast<byte, int>(output.AsSpan());
        for (var y = 0; y < Height; y++)
        {
            var row = y * Width;
            for (var x = 0; x < Width; x++)
            {
                dst[row + x] = src[row + Width - 1 - x];
            }
        }
        return new DetectionImage(Width, Height, output);
    }

    /// <summary>Cuts the region starting at row <paramref name="top"/>, column <paramref name="left"/>; parts outside
    /// the image are zero (torchvision's crop pads the same way).</summary>
    public DetectionImage Crop(int top, int left, int height, int width)
    {
        var output = new byte[(long)width * height * 4];
        var src = MemoryMarshal.Cast<byte, int>(Rgba.AsSpan());
        var dst = MemoryMarshal.Cast<byte, int>(output.AsSpan());
        for (var y = 0; y < height; y++)
        {
            var sy = top + y;
            if (sy < 0 || sy >= Height)
            {
                continue;
            }
            for (var x = 0; x < width; x++)
            {
                var sx = left + x;
                if (sx >= 0 && sx < Width)
                {
                    dst[(y * width) + x] = src[(sy * Width) + sx];
                }
            }
        }
        return new DetectionImage(width, height, output);
    }

    /// <summary>A Skia bitmap copy of the pixels (caller disposes).</summary>
    public SKBitmap ToBitmap()
    {
        var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        Rgba.CopyTo(bitmap.GetPixelSpan());
        return bitmap;
    }
}
