namespace VkD.Data.Imaging;

/// <summary>An 8-bit image stored row-major as height x width x channels (HWC), 1 (grey) or 3 (RGB) channels.</summary>
/// <remarks>This is the unit every per-image transform works on: a plain byte array keeps the hot loops free of
/// virtual calls and lets workers run them in parallel without touching native memory.</remarks>
public sealed class ImageU8
{
    /// <summary>Creates an image; <paramref name="data"/> (HWC) is taken as is, or a zeroed buffer is allocated.</summary>
    public ImageU8(int width, int height, int channels, byte[]? data = null)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"Image size must be positive, got {width}x{height}.");
        }
        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), $"Images have 1 or 3 channels, got {channels}.");
        }
        var length = checked(width * height * channels);
        if (data is not null && data.Length != length)
        {
            throw new ArgumentException($"Pixel buffer has {data.Length} bytes, expected {width}x{height}x{channels} = {length}.", nameof(data));
        }
        Width = width;
        Height = height;
        Channels = channels;
        Data = data ?? new byte[length];
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>1 for grey, 3 for RGB.</summary>
    public int Channels { get; }

    /// <summary>Pixels, HWC, row-major.</summary>
    public byte[] Data { get; }

    /// <summary>Bytes per row.</summary>
    public int Stride => Width * Channels;

    /// <summary>The value of channel <paramref name="c"/> at (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public byte this[int y, int x, int c = 0] => Data[((y * Width) + x) * Channels + c];

    /// <summary>A deep copy.</summary>
    public ImageU8 Clone() => new(Width, Height, Channels, (byte[])Data.Clone());

    /// <summary>This image with grey expanded to three equal channels (RGB images are returned as they are).</summary>
    public ImageU8 ToRgb()
    {
        if (Channels == 3)
        {
            return this;
        }
        var rgb = new byte[Data.Length * 3];
        for (int i = 0, j = 0; i < Data.Length; i++, j += 3)
        {
            var v = Data[i];
            rgb[j] = v;
            rgb[j + 1] = v;
            rgb[j + 2] = v;
        }
        return new ImageU8(Width, Height, 3, rgb);
    }

    /// <summary>PIL's "L" conversion: <c>(19595 R + 38470 G + 7471 B + 0x8000) &gt;&gt; 16</c> (grey images are returned as they are).</summary>
    public ImageU8 ToGrey()
    {
        if (Channels == 1)
        {
            return this;
        }
        var grey = new byte[Width * Height];
        var d = Data;
        for (int i = 0, j = 0; i < grey.Length; i++, j += 3)
        {
            grey[i] = PixelOps.Luma(d[j], d[j + 1], d[j + 2]);
        }
        return new ImageU8(Width, Height, 1, grey);
    }
}
