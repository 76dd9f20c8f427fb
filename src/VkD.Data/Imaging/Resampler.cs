namespace VkD.Data.Imaging;

/// <summary>Image resizing with PIL's algorithm (Pillow's Resample.c), so results match <c>PIL.Image.resize</c>.</summary>
/// <remarks>
/// Separable: a horizontal pass into an 8-bit intermediate, then a vertical pass. For each output pixel the filter
/// is centred on <c>(x + 0.5) * scale</c>; when downsampling the support is widened by the scale factor (this is the
/// antialiasing), taps are clipped to the source and renormalised, and weights are turned into 22-bit fixed point
/// exactly as PIL does, so 8-bit results agree with Pillow bit for bit. An axis whose size does not change is not
/// resampled (PIL skips that pass too).
/// </remarks>
public static class Resampler
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resizes the whole image to <paramref name="outWidth"/> x <paramref name="outHeight"/>.</summary>
    public static ImageU8 Resize(ImageU8 src, int outWidth, int outHeight, Interpolation interpolation = Interpolation.Bicubic)
        => ResizeRegion(src, 0, 0, src.Width, src.Height, outWidth, outHeight, interpolation);

    /// <summary>Crops the region (<paramref name="x"/>, <paramref name="y"/>, <paramref name="width"/>, <paramref name="height"/>)
    /// and resizes it, like torchvision's <c>resized_crop</c> on a PIL image (crop first, so taps never leave the region).</summary>
    public static ImageU8 ResizeRegion(ImageU8 src, int x, int y, int width, int height, int outWidth, int outHeight,
        Interpolation interpolation = Interpolation.Bicubic)
    {
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > src.Width || y + height > src.Height)
        {
            throw new ArgumentOutOfRangeException(nameof(width),
                $"Region ({x},{y},{width}x{height}) is not inside the {src.Width}x{src.Height} image.");
        }
        if (outWidth <= 0 || outHeight <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outWidth), $"Output size must be positive, got {outWidth}x{outHeight}.");
        }
        if (interpolation == Interpolation.Nearest)
        {
            return ResizeNearest(src, x, y, width, height, outWidth, outHeight);
        }
        if (width == outWidth && height == outHeight)
        {
            return Crop(src, x, y, width, height);
        }
        var support = interpolation == Interpolation.Bicubic ? 2.0 : 1.0;
        Func<double, double> filter = interpolation == Interpolation.Bicubic ? BicubicFilter : BilinearFilter;
        var c = src.Channels;

        // Vertical weights first: they tell which source rows the horizontal pass must produce.
        var (vBounds, vWeights, vSize) = height == outHeight
            ? IdentityCoefficients(outHeight)
            : Coefficients(height, outHeight, support, filter);
        int rowFirst = vBounds[0], rowLast = vBounds[(outHeight - 1) * 2] + vBounds[(outHeight - 1) * 2 + 1];

        ImageU8 horizontal;
        int rowOffset;
        if (width != outWidth)
        {
            var (hBounds, hWeights, hSize) = Coefficients(width, outWidth, support, filter);
            horizontal = new ImageU8(outWidth, rowLast - rowFirst, c);
            HorizontalPass(src, x, y + rowFirst, horizontal, hBounds, hWeights, hSize);
            rowOffset = 0;
        }
        else
        {
            horizontal = Crop(src, x, y + rowFirst, width, rowLast - rowFirst);
            rowOffset = 0;
        }
        if (height == outHeight)
        {
            return horizontal;
        }
        for (int i = 0; i < outHeight; i++)
        {
            vBounds[i * 2] -= rowFirst - rowOffset;
        }
        var result = new ImageU8(outWidth, outHeight, c);
        VerticalPass(horizontal, result, vBounds, vWeights, vSize);
        return result;
    }

    /// <summary>Copies a rectangle out of <paramref name="src"/> (PIL's <c>crop</c>; the region must lie inside).</summary>
    public static ImageU8 Crop(ImageU8 src, int x, int y, int width, int height)
    {
        var c = src.Channels;
        var dst = new ImageU8(width, height, c);
        var rowBytes = width * c;
        for (int r = 0; r < height; r++)
        {
            Buffer.BlockCopy(src.Data, ((y + r) * src.Width + x) * c, dst.Data, r * rowBytes, rowBytes);
        }
        return dst;
    }

    /// <summary>PIL's bicubic kernel for resizing (a = -0.5, support 2).</summary>
    internal static double BicubicFilter(double x)
    {
        const double a = -0.5;
        if (x < 0.0)
        {
            x = -x;
        }
        if (x < 1.0)
        {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0)
        {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
    }

    private static double BilinearFilter(double x)
    {
        if (x < 0.0)
        {
            x = -x;
        }
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static (int[] Bounds, int[] Weights, int KernelSize) IdentityCoefficients(int size)
    {
        var bounds = new int[size * 2];
        var weights = new int[size];
        for (int i = 0; i < size; i++)
        {
            bounds[i * 2] = i;
            bounds[i * 2 + 1] = 1;
            weights[i] = 1 << PrecisionBits;
        }
        return (bounds, weights, 1);
    }

    /// <summary>PIL's precompute_coeffs + normalize_coeffs_8bpc: per output pixel, the first tap, the tap count and
    /// fixed-point weights.</summary>
    private static (int[] Bounds, int[] Weights, int KernelSize) Coefficients(int inSize, int outSize, double filterSupport, Func<double, double> filter)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterSupport * filterScale;
        int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * kernelSize];
        var k = new double[kernelSize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double ww = 0.0;
            for (int i = 0; i < xmax; i++)
            {
                var w = filter((i + xmin - center + 0.5) * ss);
                k[i] = w;
                ww += w;
            }
            for (int i = 0; i < xmax; i++)
            {
                var w = ww != 0.0 ? k[i] / ww : k[i];
                weights[xx * kernelSize + i] = w < 0
                    ? (int)(-0.5 + w * (1 << PrecisionBits))
                    : (int)(0.5 + w * (1 << PrecisionBits));
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        return (bounds, weights, kernelSize);
    }

    private static unsafe void HorizontalPass(ImageU8 src, int x0, int y0, ImageU8 dst, int[] bounds, int[] weights, int kernelSize)
    {
        int c = src.Channels, outW = dst.Width, rows = dst.Height, srcStride = src.Stride;
        const int half = 1 << (PrecisionBits - 1);
        fixed (byte* sp = src.Data, dp = dst.Data)
        fixed (int* bp = bounds, wp = weights)
        {
            for (int r = 0; r < rows; r++)
            {
                byte* srow = sp + (y0 + r) * srcStride + x0 * c;
                byte* drow = dp + r * outW * c;
                for (int xx = 0; xx < outW; xx++)
                {
                    int xmin = bp[xx * 2], n = bp[xx * 2 + 1];
                    int* k = wp + xx * kernelSize;
                    byte* s = srow + xmin * c;
                    if (c == 3)
                    {
                        int s0 = half, s1 = half, s2 = half;
                        for (int i = 0; i < n; i++, s += 3)
                        {
                            int w = k[i];
                            s0 += s[0] * w;
                            s1 += s[1] * w;
                            s2 += s[2] * w;
                        }
                        byte* d = drow + xx * 3;
                        d[0] = Clip8(s0);
                        d[1] = Clip8(s1);
                        d[2] = Clip8(s2);
                    }
                    else
                    {
                        int s0 = half;
                        for (int i = 0; i < n; i++)
                        {
                            s0 += s[i] * k[i];
                        }
                        drow[xx] = Clip8(s0);
                    }
                }
            }
        }
    }

    private static unsafe void VerticalPass(ImageU8 src, ImageU8 dst, int[] bounds, int[] weights, int kernelSize)
    {
        int rowBytes = dst.Stride, outH = dst.Height;
        const int half = 1 << (PrecisionBits - 1);
        var acc = new int[rowBytes];
        fixed (byte* sp = src.Data, dp = dst.Data)
        fixed (int* bp = bounds, wp = weights, ap = acc)
        {
            for (int yy = 0; yy < outH; yy++)
            {
                int ymin = bp[yy * 2], n = bp[yy * 2 + 1];
                int* k = wp + yy * kernelSize;
                new Span<int>(ap, rowBytes).Fill(half);
                for (int i = 0; i < n; i++)
                {
                    int w = k[i];
                    byte* s = sp + (ymin + i) * rowBytes;
                    for (int j = 0; j < rowBytes; j++)
                    {
                        ap[j] += s[j] * w;
                    }
                }
                byte* d = dp + yy * rowBytes;
                for (int j = 0; j < rowBytes; j++)
                {
                    d[j] = Clip8(ap[j]);
                }
            }
        }
    }

    private static byte Clip8(int v)
    {
        v >>= PrecisionBits;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    /// <summary>PIL's nearest resize: source pixel <c>floor((x + 0.5) * scale)</c>.</summary>
    private static ImageU8 ResizeNearest(ImageU8 src, int x0, int y0, int width, int height, int outWidth, int outHeight)
    {
        int c = src.Channels;
        var dst = new ImageU8(outWidth, outHeight, c);
        var xs = new int[outWidth];
        double sx = (double)width / outWidth, sy = (double)height / outHeight;
        for (int x = 0; x < outWidth; x++)
        {
            xs[x] = x0 + Math.Min((int)Math.Floor((x + 0.5) * sx), width - 1);
        }
        for (int y = 0; y < outHeight; y++)
        {
            int sy0 = y0 + Math.Min((int)Math.Floor((y + 0.5) * sy), height - 1);
            int srow = sy0 * src.Width, drow = y * outWidth;
            for (int x = 0; x < outWidth; x++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    dst.Data[(drow + x) * c + ch] = src.Data[(srow + xs[x]) * c + ch];
                }
            }
        }
        return dst;
    }
}
