namespace VkD.Data.Imaging;

/// <summary>Point and neighbourhood operations on 8-bit images, each with Pillow's exact integer semantics
/// (ImageOps, ImageEnhance, ImageFilter), so augmentations match the PIL-based reference.</summary>
public static class PixelOps
{
    /// <summary>PIL's RGB to L: <c>(19595 R + 38470 G + 7471 B + 0x8000) &gt;&gt; 16</c>.</summary>
    public static byte Luma(byte r, byte g, byte b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);

    /// <summary>Applies one 256-entry lookup table to every channel, in place.</summary>
    public static void ApplyLut(ImageU8 image, ReadOnlySpan<byte> lut)
    {
        var d = image.Data;
        for (int i = 0; i < d.Length; i++)
        {
            d[i] = lut[d[i]];
        }
    }

    /// <summary>Applies per-channel lookup tables (<paramref name="luts"/> holds 256 entries per channel), in place.</summary>
    public static void ApplyLutPerChannel(ImageU8 image, ReadOnlySpan<byte> luts)
    {
        var d = image.Data;
        var c = image.Channels;
        for (int i = 0; i < d.Length; i += c)
        {
            for (int ch = 0; ch < c; ch++)
            {
                d[i + ch] = luts[ch * 256 + d[i + ch]];
            }
        }
    }

    /// <summary>Per-channel histograms, 256 bins per channel.</summary>
    public static int[] Histogram(ImageU8 image)
    {
        var c = image.Channels;
        var h = new int[256 * c];
        var d = image.Data;
        for (int i = 0; i < d.Length; i += c)
        {
            for (int ch = 0; ch < c; ch++)
            {
                h[ch * 256 + d[i + ch]]++;
            }
        }
        return h;
    }

    /// <summary>ImageOps.solarize: values at or above <paramref name="threshold"/> are inverted.</summary>
    public static void Solarize(ImageU8 image, int threshold = 128)
    {
        Span<byte> lut = stackalloc byte[256];
        for (int i = 0; i < 256; i++)
        {
            lut[i] = (byte)(i < threshold ? i : 255 - i);
        }
        ApplyLut(image, lut);
    }

    /// <summary>timm's solarize_add: values below <paramref name="threshold"/> get <paramref name="add"/> added (clipped at 255).</summary>
    public static void SolarizeAdd(ImageU8 image, int add, int threshold = 128)
    {
        Span<byte> lut = stackalloc byte[256];
        for (int i = 0; i < 256; i++)
        {
            lut[i] = (byte)(i < threshold ? Math.Min(255, i + add) : i);
        }
        ApplyLut(image, lut);
    }

    /// <summary>ImageOps.posterize: keeps the top <paramref name="bits"/> bits (8 or more is a no-op).</summary>
    public static void Posterize(ImageU8 image, int bits)
    {
        if (bits >= 8)
        {
            return;
        }
        var mask = (byte)~((1 << (8 - bits)) - 1);
        Span<byte> lut = stackalloc byte[256];
        for (int i = 0; i < 256; i++)
        {
            lut[i] = (byte)(i & mask);
        }
        ApplyLut(image, lut);
    }

    /// <summary>ImageOps.invert.</summary>
    public static void Invert(ImageU8 image)
    {
        var d = image.Data;
        for (int i = 0; i < d.Length; i++)
        {
            d[i] = (byte)(255 - d[i]);
        }
    }

    /// <summary>ImageOps.autocontrast with cutoff 0: each channel is stretched linearly from [min, max] to [0, 255]
    /// (<c>int(i * scale + offset)</c>, truncated and clipped); a flat channel is left alone.</summary>
    public static void AutoContrast(ImageU8 image)
    {
        var h = Histogram(image);
        var c = image.Channels;
        var luts = new byte[256 * c];
        for (int ch = 0; ch < c; ch++)
        {
            int lo = 0, hi = 255;
            while (lo < 256 && h[ch * 256 + lo] == 0)
            {
                lo++;
            }
            while (hi >= 0 && h[ch * 256 + hi] == 0)
            {
                hi--;
            }
            for (int i = 0; i < 256; i++)
            {
                int v = i;
                if (hi > lo)
                {
                    double scale = 255.0 / (hi - lo);
                    double offset = -lo * scale;
                    v = Math.Clamp((int)(i * scale + offset), 0, 255);
                }
                luts[ch * 256 + i] = (byte)v;
            }
        }
        ApplyLutPerChannel(image, luts);
    }

    /// <summary>ImageOps.equalize: per channel, <c>lut[i] = (step / 2 + cumulative count below i) / step</c> with
    /// <c>step = (pixels - count of the last non-empty bin) / 256</c>; identity when step is 0 or one bin is used.</summary>
    public static void Equalize(ImageU8 image)
    {
        var h = Histogram(image);
        var c = image.Channels;
        var luts = new byte[256 * c];
        for (int ch = 0; ch < c; ch++)
        {
            int used = 0, total = 0, last = 0;
            for (int i = 0; i < 256; i++)
            {
                var n = h[ch * 256 + i];
                if (n != 0)
                {
                    used++;
                    total += n;
                    last = n;
                }
            }
            int step = used <= 1 ? 0 : (total - last) / 256;
            int acc = step / 2;
            for (int i = 0; i < 256; i++)
            {
                luts[ch * 256 + i] = step == 0 ? (byte)i : (byte)Math.Min(255, acc / step);
                acc += h[ch * 256 + i];
            }
        }
        ApplyLutPerChannel(image, luts);
    }

    /// <summary>PIL's Image.blend(degenerate, image, factor) as used by ImageEnhance: <c>d + factor * (x - d)</c>,
    /// truncated toward zero and clipped to [0, 255]. Written into <paramref name="image"/>.</summary>
    public static void BlendInto(ImageU8 image, ImageU8 degenerate, double factor)
    {
        var x = image.Data;
        var d = degenerate.Data;
        var a = (float)factor;
        for (int i = 0; i < x.Length; i++)
        {
            float v = d[i] + a * (x[i] - d[i]);
            x[i] = v <= 0f ? (byte)0 : v >= 255f ? (byte)255 : (byte)v;
        }
    }

    /// <summary>ImageEnhance.Brightness: blend with black.</summary>
    public static void AdjustBrightness(ImageU8 image, double factor)
        => BlendInto(image, new ImageU8(image.Width, image.Height, image.Channels), factor);

    /// <summary>ImageEnhance.Contrast: blend with a flat image at the rounded mean of the L channel.</summary>
    public static void AdjustContrast(ImageU8 image, double factor)
    {
        var grey = image.ToGrey();
        long sum = 0;
        foreach (var v in grey.Data)
        {
            sum += v;
        }
        var mean = (byte)(int)((double)sum / grey.Data.Length + 0.5);
        var flat = new ImageU8(image.Width, image.Height, image.Channels);
        Array.Fill(flat.Data, mean);
        BlendInto(image, flat, factor);
    }

    /// <summary>ImageEnhance.Color (saturation): blend with the image's L conversion.</summary>
    public static void AdjustSaturation(ImageU8 image, double factor)
    {
        if (image.Channels == 1)
        {
            return;
        }
        BlendInto(image, image.ToGrey().ToRgb(), factor);
    }

    /// <summary>ImageEnhance.Sharpness: blend with PIL's SMOOTH filter (3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13,
    /// border pixels unchanged).</summary>
    public static void AdjustSharpness(ImageU8 image, double factor) => BlendInto(image, Smooth(image), factor);

    /// <summary>PIL's ImageFilter.SMOOTH: 3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13 in float, truncated; the one-pixel
    /// border is copied.</summary>
    public static ImageU8 Smooth(ImageU8 image)
    {
        var dst = image.Clone();
        int w = image.Width, h = image.Height, c = image.Channels;
        if (w < 3 || h < 3)
        {
            return dst;
        }
        const float k = 1f / 13f, kc = 5f / 13f;
        var s = image.Data;
        var d = dst.Data;
        int stride = w * c;
        for (int y = 1; y < h - 1; y++)
        {
            for (int x = 1; x < w - 1; x++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    int i = y * stride + x * c + ch;
                    // Pillow sums row by row (bottom row first) with float kernel taps; keep its order.
                    float ss = 0f;
                    ss += s[i + stride - c] * k + s[i + stride] * k + s[i + stride + c] * k;
                    ss += s[i - c] * k + s[i] * kc + s[i + c] * k;
                    ss += s[i - stride - c] * k + s[i - stride] * k + s[i - stride + c] * k;
                    d[i] = ss <= 0f ? (byte)0 : ss >= 255f ? (byte)255 : (byte)ss;
                }
            }
        }
        return dst;
    }

    /// <summary>Mirrors the image left-right, in place.</summary>
    public static void FlipHorizontal(ImageU8 image)
    {
        int w = image.Width, c = image.Channels;
        var d = image.Data;
        for (int y = 0; y < image.Height; y++)
        {
            int row = y * w * c;
            for (int l = 0, r = w - 1; l < r; l++, r--)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    (d[row + l * c + ch], d[row + r * c + ch]) = (d[row + r * c + ch], d[row + l * c + ch]);
                }
            }
        }
    }

    /// <summary>PIL's ImageFilter.GaussianBlur(radius): three extended box blurs per axis (horizontal passes, then
    /// vertical), each rounded to 8 bits, with the box radius of Gwosdek et al. as in Pillow's BoxBlur.c.</summary>
    public static ImageU8 GaussianBlur(ImageU8 image, double radius)
    {
        const int passes = 3;
        var r = (float)BoxRadiusForGaussian((float)radius, passes);
        var a = image.Clone();
        var b = new ImageU8(image.Width, image.Height, image.Channels);
        if (radius <= 0)
        {
            return a;
        }
        for (int p = 0; p < passes; p++)
        {
            BoxBlurLines(a, b, r, horizontal: true);
            (a, b) = (b, a);
        }
        for (int p = 0; p < passes; p++)
        {
            BoxBlurLines(a, b, r, horizontal: false);
            (a, b) = (b, a);
        }
        return a;
    }

    private static float BoxRadiusForGaussian(float radius, int passes)
    {
        float sigma2 = radius * radius / passes;
        float bigL = MathF.Sqrt(12.0f * sigma2 + 1.0f);
        float l = MathF.Floor((bigL - 1.0f) / 2.0f);
        float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
        a /= 6 * (sigma2 - (l + 1) * (l + 1));
        return l + a;
    }

    /// <summary>One pass of Pillow's extended box blur along rows or columns: integer radius r with full weight
    /// <c>ww = 2^24 / (2 radius + 1)</c>, the two next taps with <c>fw = (2^24 - (2r + 1) ww) / 2</c>; edges clamp.</summary>
    private static unsafe void BoxBlurLines(ImageU8 src, ImageU8 dst, float floatRadius, bool horizontal)
    {
        int w = src.Width, h = src.Height, c = src.Channels;
        int radius = (int)floatRadius;
        uint ww = (uint)((1 << 24) / (floatRadius * 2 + 1));
        uint fw = (uint)(((1 << 24) - (radius * 2 + 1) * ww) / 2);
        int lines = horizontal ? h : w, length = horizontal ? w : h;
        int step = horizontal ? c : w * c, lineStep = horizontal ? w * c : c;
        int last = length - 1;
        fixed (byte* sp = src.Data, dp = dst.Data)
        {
            for (int line = 0; line < lines; line++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    byte* s = sp + line * lineStep + ch;
                    byte* d = dp + line * lineStep + ch;
                    // Running sum over the clamped window [x - radius, x + radius].
                    uint acc = 0;
                    for (int k = -radius; k <= radius; k++)
                    {
                        acc += s[Math.Clamp(k, 0, last) * step];
                    }
                    for (int x = 0; x < length; x++)
                    {
                        uint far = (uint)s[Math.Clamp(x - radius - 1, 0, last) * step] + s[Math.Clamp(x + radius + 1, 0, last) * step];
                        uint bulk = acc * ww + far * fw;
                        d[x * step] = (byte)((bulk + (1u << 23)) >> 24);
                        acc += (uint)s[Math.Clamp(x + radius + 1, 0, last) * step];
                        acc -= s[Math.Clamp(x - radius, 0, last) * step];
                    }
                }
            }
        }
    }
}
