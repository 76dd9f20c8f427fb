namespace VkD.Data.Imaging;

/// <summary>PIL's <c>Image.transform(size, AFFINE, (a, b, c, d, e, f), resample, fillcolor)</c> (Pillow's Geometry.c):
/// output pixel (x, y) samples the input at <c>(a (x+0.5) + b (y+0.5) + c, d (x+0.5) + e (y+0.5) + f)</c>; samples
/// outside the input keep the fill colour. Bilinear and bicubic (a = -1, Pillow's geometry cubic) clamp their taps at
/// the border and truncate the result to 8 bits, as Pillow does.</summary>
public static class AffineWarp
{
    /// <summary>Applies the inverse affine map <paramref name="m"/> (6 coefficients) and returns a new image.</summary>
    public static ImageU8 Apply(ImageU8 src, ReadOnlySpan<double> m, Interpolation interpolation, ReadOnlySpan<byte> fill)
    {
        int w = src.Width, h = src.Height, c = src.Channels;
        var dst = new ImageU8(w, h, c);
        var d = dst.Data;
        for (int i = 0; i < d.Length; i += c)
        {
            for (int ch = 0; ch < c; ch++)
            {
                d[i + ch] = fill[Math.Min(ch, fill.Length - 1)];
            }
        }
        Span<double> px = stackalloc double[3];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                double xo = x + 0.5, yo = y + 0.5;
                double xin = m[0] * xo + m[1] * yo + m[2];
                double yin = m[3] * xo + m[4] * yo + m[5];
                var ok = interpolation switch
                {
                    Interpolation.Nearest => Nearest(src, xin, yin, px),
                    Interpolation.Bilinear => Bilinear(src, xin, yin, px),
                    _ => Bicubic(src, xin, yin, px),
                };
                if (!ok)
                {
                    continue;
                }
                int o = (y * w + x) * c;
                for (int ch = 0; ch < c; ch++)
                {
                    var v = px[ch];
                    d[o + ch] = v <= 0.0 ? (byte)0 : v >= 255.0 ? (byte)255 : (byte)v;
                }
            }
        }
        return dst;
    }

    /// <summary>PIL's <c>Image.rotate(degrees, resample, fillcolor=fill)</c>: counter-clockwise about the image centre,
    /// same output size.</summary>
    public static ImageU8 Rotate(ImageU8 src, double degrees, Interpolation interpolation, ReadOnlySpan<byte> fill)
    {
        double cx = src.Width / 2.0, cy = src.Height / 2.0;
        double angle = -(degrees % 360.0) * Math.PI / 180.0;
        double cos = Math.Round(Math.Cos(angle), 15), sin = Math.Round(Math.Sin(angle), 15);
        Span<double> m = [cos, sin, 0.0, -sin, cos, 0.0];
        m[2] = cos * -cx + sin * -cy + cx;
        m[5] = -sin * -cx + cos * -cy + cy;
        return Apply(src, m, interpolation, fill);
    }

    private static bool Nearest(ImageU8 im, double xin, double yin, Span<double> px)
    {
        int x = (int)Math.Floor(xin), y = (int)Math.Floor(yin);
        if (x < 0 || x >= im.Width || y < 0 || y >= im.Height)
        {
            return false;
        }
        for (int ch = 0; ch < im.Channels; ch++)
        {
            px[ch] = im[y, x, ch];
        }
        return true;
    }

    private static bool Bilinear(ImageU8 im, double xin, double yin, Span<double> px)
    {
        if (xin < 0.0 || xin >= im.Width || yin < 0.0 || yin >= im.Height)
        {
            return false;
        }
        xin -= 0.5;
        yin -= 0.5;
        int x = (int)Math.Floor(xin), y = (int)Math.Floor(yin);
        double dx = xin - x, dy = yin - y;
        int x0 = Math.Clamp(x, 0, im.Width - 1), x1 = Math.Clamp(x + 1, 0, im.Width - 1);
        int y0 = Math.Clamp(y, 0, im.Height - 1);
        bool hasY1 = y + 1 >= 0 && y + 1 < im.Height;
        for (int ch = 0; ch < im.Channels; ch++)
        {
            double v1 = im[y0, x0, ch] + (im[y0, x1, ch] - im[y0, x0, ch]) * dx;
            double v2 = hasY1 ? im[y + 1, x0, ch] + (im[y + 1, x1, ch] - im[y + 1, x0, ch]) * dx : v1;
            px[ch] = v1 + (v2 - v1) * dy;
        }
        return true;
    }

    private static bool Bicubic(ImageU8 im, double xin, double yin, Span<double> px)
    {
        if (xin < 0.0 || xin >= im.Width || yin < 0.0 || yin >= im.Height)
        {
            return false;
        }
        xin -= 0.5;
        yin -= 0.5;
        int x = (int)Math.Floor(xin), y = (int)Math.Floor(yin);
        double dx = xin - x, dy = yin - y;
        x--;
        y--;
        Span<int> xs = stackalloc int[4];
        for (int i = 0; i < 4; i++)
        {
            xs[i] = Math.Clamp(x + i, 0, im.Width - 1);
        }
        Span<double> rows = stackalloc double[4];
        for (int ch = 0; ch < im.Channels; ch++)
        {
            for (int j = 0; j < 4; j++)
            {
                // Pillow clamps the first row index and falls back to the previous row outside the image.
                int yy = y + j;
                int row = j == 0 ? Math.Clamp(yy, 0, im.Height - 1) : (yy >= 0 && yy < im.Height ? yy : -1);
                if (row < 0)
                {
                    rows[j] = rows[j - 1];
                    continue;
                }
                rows[j] = Cubic(im[row, xs[0], ch], im[row, xs[1], ch], im[row, xs[2], ch], im[row, xs[3], ch], dx);
            }
            px[ch] = Cubic(rows[0], rows[1], rows[2], rows[3], dy);
        }
        return true;
    }

    private static double Cubic(double v1, double v2, double v3, double v4, double d)
    {
        double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
        return p1 + d * (p2 + d * (p3 + d * p4));
    }
}
