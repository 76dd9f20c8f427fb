using VkD.Data.Imaging;

namespace VkD.Data.Transforms;

/// <summary>timm's <c>RandomResizedCropAndInterpolation</c> / torchvision's <c>RandomResizedCrop</c>: up to 10 attempts
/// draw an area fraction uniform in <c>scale</c> and a log-uniform aspect ratio in <c>ratio</c>;
/// <c>w = round(sqrt(area * ratio))</c>, <c>h = round(sqrt(area / ratio))</c> (round half to even, as Python); the first
/// that fits is placed at a uniform position. Otherwise the fallback is a centre crop clamped to the ratio range.
/// The crop is then resized (PIL algorithm) to <c>size x size</c>.</summary>
public sealed class RandomResizedCrop(int size, double scaleMin = 0.08, double scaleMax = 1.0,
    double ratioMin = 3.0 / 4.0, double ratioMax = 4.0 / 3.0, Interpolation interpolation = Interpolation.Bicubic) : IImageTransform
{
    /// <summary>Output side length.</summary>
    public int Size { get; } = size;

    /// <summary>Draws the crop box (left, top, width, height) for an image of the given size.</summary>
    public (int X, int Y, int Width, int Height) SampleBox(int width, int height, DeterministicRandom rng)
    {
        double area = (double)width * height;
        double logMin = Math.Log(ratioMin), logMax = Math.Log(ratioMax);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double targetArea = rng.Uniform(scaleMin, scaleMax) * area;
            double aspect = Math.Exp(rng.Uniform(logMin, logMax));
            int w = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
            if (w <= width && h <= height && w > 0 && h > 0)
            {
                int top = rng.NextIntInclusive(0, height - h);
                int left = rng.NextIntInclusive(0, width - w);
                return (left, top, w, h);
            }
        }
        double inRatio = (double)width / height;
        int cw, ch;
        if (inRatio < Math.Min(ratioMin, ratioMax))
        {
            cw = width;
            ch = (int)Math.Round(cw / Math.Min(ratioMin, ratioMax), MidpointRounding.ToEven);
        }
        else if (inRatio > Math.Max(ratioMin, ratioMax))
        {
            ch = height;
            cw = (int)Math.Round(ch * Math.Max(ratioMin, ratioMax), MidpointRounding.ToEven);
        }
        else
        {
            cw = width;
            ch = height;
        }
        return ((width - cw) / 2, (height - ch) / 2, cw, ch);
    }

    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        var (x, y, w, h) = SampleBox(image.Width, image.Height, rng);
        return Resampler.ResizeRegion(image, x, y, w, h, Size, Size, interpolation);
    }
}

/// <summary>torchvision's <c>Resize</c>: an int size resizes the shorter side to it and the longer side to
/// <c>int(size * long / short)</c>; an explicit (width, height) resizes to exactly that.</summary>
public sealed class Resize : IImageTransform
{
    private readonly int _shorter;
    private readonly int _width, _height;
    private readonly Interpolation _interpolation;

    /// <summary>Shorter side to <paramref name="shorterSide"/>, keeping the aspect ratio.</summary>
    public Resize(int shorterSide, Interpolation interpolation = Interpolation.Bicubic)
    {
        _shorter = shorterSide;
        _interpolation = interpolation;
    }

    /// <summary>Exactly <paramref name="width"/> x <paramref name="height"/>.</summary>
    public Resize(int width, int height, Interpolation interpolation = Interpolation.Bicubic)
    {
        _width = width;
        _height = height;
        _interpolation = interpolation;
    }

    /// <summary>The output size torchvision computes for a shorter-side resize.</summary>
    public static (int Width, int Height) ShorterSideSize(int width, int height, int size)
    {
        if (width <= height)
        {
            return (size, (int)((long)size * height / width));
        }
        return ((int)((long)size * width / height), size);
    }

    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        var (w, h) = _shorter > 0 ? ShorterSideSize(image.Width, image.Height, _shorter) : (_width, _height);
        return w == image.Width && h == image.Height ? image : Resampler.Resize(image, w, h, _interpolation);
    }
}

/// <summary>torchvision's <c>CenterCrop</c>: offsets <c>round((W - w) / 2)</c>, <c>round((H - h) / 2)</c> (half to even);
/// an image smaller than the crop is first zero-padded symmetrically (extra pixel on the right/bottom).</summary>
public sealed class CenterCrop(int size) : IImageTransform
{
    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        if (image.Width < size || image.Height < size)
        {
            int padW = Math.Max(0, size - image.Width), padH = Math.Max(0, size - image.Height);
            image = ImagePadding.Pad(image, padW / 2, padH / 2, (padW + 1) / 2, (padH + 1) / 2, PaddingMode.Constant);
        }
        int left = (int)Math.Round((image.Width - size) / 2.0, MidpointRounding.ToEven);
        int top = (int)Math.Round((image.Height - size) / 2.0, MidpointRounding.ToEven);
        return left == 0 && top == 0 && image.Width == size && image.Height == size
            ? image
            : Resampler.Crop(image, left, top, size, size);
    }
}

/// <summary>Horizontal flip with probability <c>p</c> (torchvision's <c>RandomHorizontalFlip</c>; one draw per image).</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : IImageTransform
{
    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        if (rng.NextDouble() < p)
        {
            PixelOps.FlipHorizontal(image);
        }
        return image;
    }
}

/// <summary>How <see cref="RandomCropWithPadding"/> fills the border.</summary>
public enum PaddingMode
{
    /// <summary>Zeros (torchvision's default <c>fill=0</c>).</summary>
    Constant,

    /// <summary>Mirror without repeating the edge pixel (numpy/torch "reflect").</summary>
    Reflect,
}

/// <summary>Border padding helpers.</summary>
public static class ImagePadding
{
    /// <summary>Pads left/top/right/bottom with zeros or a reflection.</summary>
    public static ImageU8 Pad(ImageU8 image, int left, int top, int right, int bottom, PaddingMode mode)
    {
        int w = image.Width, h = image.Height, c = image.Channels;
        if (mode == PaddingMode.Reflect && (left >= w || right >= w || top >= h || bottom >= h))
        {
            throw new ArgumentException($"Reflect padding of ({left},{top},{right},{bottom}) needs an image larger than the padding, got {w}x{h}.");
        }
        int ow = w + left + right, oh = h + top + bottom;
        var dst = new ImageU8(ow, oh, c);
        for (int y = 0; y < oh; y++)
        {
            int sy = y - top;
            if (sy < 0 || sy >= h)
            {
                if (mode == PaddingMode.Constant)
                {
                    continue;
                }
                sy = sy < 0 ? -sy : 2 * (h - 1) - sy;
            }
            for (int x = 0; x < ow; x++)
            {
                int sx = x - left;
                if (sx < 0 || sx >= w)
                {
                    if (mode == PaddingMode.Constant)
                    {
                        continue;
                    }
                    sx = sx < 0 ? -sx : 2 * (w - 1) - sx;
                }
                Buffer.BlockCopy(image.Data, (sy * w + sx) * c, dst.Data, (y * ow + x) * c, c);
            }
        }
        return dst;
    }
}

/// <summary>torchvision's <c>RandomCrop(size, padding)</c> for small images (DeiT uses it instead of the resized crop
/// when the input is 32 px or less): pad every side by <c>padding</c>, then crop <c>size x size</c> at a uniform
/// position <c>top = randint(0, H - size)</c>, <c>left = randint(0, W - size)</c>.</summary>
public sealed class RandomCropWithPadding(int size, int padding = 4, PaddingMode mode = PaddingMode.Constant) : IImageTransform
{
    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        var padded = padding > 0 ? ImagePadding.Pad(image, padding, padding, padding, padding, mode) : image;
        if (padded.Width < size || padded.Height < size)
        {
            throw new ArgumentException($"RandomCrop of {size} px needs a padded image at least that large, got {padded.Width}x{padded.Height}.");
        }
        int top = rng.NextIntInclusive(0, padded.Height - size);
        int left = rng.NextIntInclusive(0, padded.Width - size);
        return Resampler.Crop(padded, left, top, size, size);
    }
}

/// <summary>Expands grey images to three equal channels; RGB images pass through.</summary>
public sealed class ToRgb : IImageTransform
{
    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng) => image.ToRgb();
}
