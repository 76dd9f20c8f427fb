using VkD.Data.Imaging;

namespace VkD.Data.Transforms;

/// <summary>DeiT III's "3-Augment" as in the VkD repository's augment.py: one of grayscale (3 channels, PIL's L
/// conversion), solarize (threshold 128) or Gaussian blur (PIL's GaussianBlur, radius uniform in [0.1, 2.0]), chosen
/// uniformly per image and always applied.</summary>
public sealed class ThreeAugment(double blurRadiusMin = 0.1, double blurRadiusMax = 2.0) : IImageTransform
{
    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        switch (rng.NextInt(3))
        {
            case 0:
                return image.Channels == 3 ? image.ToGrey().ToRgb() : image;
            case 1:
                PixelOps.Solarize(image, 128);
                return image;
            default:
                return PixelOps.GaussianBlur(image, rng.Uniform(blurRadiusMin, blurRadiusMax));
        }
    }
}

/// <summary>torchvision's <c>ColorJitter(brightness, contrast, saturation)</c> on PIL images: each enabled factor is
/// drawn uniform in <c>[max(0, 1 - v), 1 + v]</c>, then the adjustments run in a random order, each with
/// ImageEnhance's blend semantics (see <see cref="PixelOps"/>). Hue jitter is not supported (DeiT and VkD use 0).</summary>
public sealed class ColorJitter : IImageTransform
{
    private readonly double _brightness, _contrast, _saturation;

    /// <summary>Creates the jitter; a strength of 0 disables that adjustment.</summary>
    public ColorJitter(double brightness, double contrast, double saturation)
    {
        if (brightness < 0 || contrast < 0 || saturation < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(brightness), "Colour jitter strengths must be non-negative.");
        }
        _brightness = brightness;
        _contrast = contrast;
        _saturation = saturation;
    }

    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        var order = rng.Permutation(3);
        double b = Factor(_brightness, rng), c = Factor(_contrast, rng), s = Factor(_saturation, rng);
        foreach (var op in order)
        {
            switch (op)
            {
                case 0 when _brightness > 0:
                    PixelOps.AdjustBrightness(image, b);
                    break;
                case 1 when _contrast > 0:
                    PixelOps.AdjustContrast(image, c);
                    break;
                case 2 when _saturation > 0:
                    PixelOps.AdjustSaturation(image, s);
                    break;
            }
        }
        return image;
    }

    private static double Factor(double strength, DeterministicRandom rng)
        => strength > 0 ? rng.Uniform(Math.Max(0, 1 - strength), 1 + strength) : 1.0;
}
