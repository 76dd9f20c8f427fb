using System.Globalization;
using VkD.Data.Imaging;

namespace VkD.Data.Transforms;

/// <summary>timm's RandAugment (timm/data/auto_augment.py) with its config grammar, e.g. <c>rand-m9-mstd0.5-inc1</c>:
/// <c>m</c> magnitude (0-10), <c>n</c> layers (default 2), <c>mstd</c> magnitude std (Gaussian noise per op call;
/// <c>inf</c> = uniform in [0, m]), <c>mmax</c> upper clip (default 10), <c>inc1</c> the "increasing" op set.
/// Per image, <c>n</c> ops are drawn uniformly with replacement; each runs with probability 0.5 at magnitude
/// <c>clip(N(m, mstd), 0, mmax)</c>. Geometric ops fill with the dataset mean (ImageNet: 124, 116, 104) and resample
/// with the configured interpolation; translations are relative (45% of the size at magnitude 10).</summary>
public sealed class RandAugment : IImageTransform
{
    private const double LevelDenominator = 10.0;

    private static readonly string[] IncreasingOps =
    [
        "AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing", "SolarizeAdd",
        "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
        "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
    ];

    private static readonly string[] StandardOps =
    [
        "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd",
        "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
    ];

    private readonly byte[] _fill;
    private readonly Interpolation _interpolation;

    /// <summary>Parses a timm config string.</summary>
    /// <param name="config">e.g. <c>rand-m9-mstd0.5-inc1</c>.</param>
    /// <param name="fill">Fill colour of geometric ops (timm: the normalisation mean as bytes).</param>
    /// <param name="interpolation">Resampling of geometric ops (timm/DeiT: bicubic).</param>
    /// <param name="translatePercent">Relative translation at magnitude 10 (timm default 0.45).</param>
    public RandAugment(string config, byte[]? fill = null, Interpolation interpolation = Interpolation.Bicubic, double translatePercent = 0.45)
    {
        var parts = config.Split('-');
        if (parts.Length == 0 || parts[0] != "rand")
        {
            throw new ArgumentException($"RandAugment config must start with 'rand', got '{config}'.", nameof(config));
        }
        bool increasing = false;
        foreach (var part in parts.Skip(1))
        {
            if (part.StartsWith("mstd", StringComparison.Ordinal))
            {
                MagnitudeStd = ParseNumber(part[4..], config);
            }
            else if (part.StartsWith("mmax", StringComparison.Ordinal))
            {
                MagnitudeMax = ParseNumber(part[4..], config);
            }
            else if (part.StartsWith("inc", StringComparison.Ordinal))
            {
                increasing = ParseNumber(part[3..], config) != 0;
            }
            else if (part.StartsWith('m'))
            {
                Magnitude = ParseNumber(part[1..], config);
            }
            else if (part.StartsWith('n'))
            {
                NumLayers = (int)ParseNumber(part[1..], config);
            }
            else
            {
                throw new ArgumentException($"Unknown RandAugment option '{part}' in '{config}' (known: m, n, mstd, mmax, inc).", nameof(config));
            }
        }
        Ops = increasing ? IncreasingOps : StandardOps;
        _fill = fill ?? [128, 128, 128];
        _interpolation = interpolation;
        TranslatePercent = translatePercent;
    }

    /// <summary>Magnitude m (0-10 scale).</summary>
    public double Magnitude { get; } = 10;

    /// <summary>Std of the per-call magnitude noise (0 = none, infinity = uniform in [0, m]).</summary>
    public double MagnitudeStd { get; }

    /// <summary>Upper clip of the magnitude.</summary>
    public double MagnitudeMax { get; } = LevelDenominator;

    /// <summary>Ops applied per image.</summary>
    public int NumLayers { get; } = 2;

    /// <summary>Relative translation at full magnitude.</summary>
    public double TranslatePercent { get; }

    /// <summary>The op names, in timm's order.</summary>
    public IReadOnlyList<string> Ops { get; }

    /// <inheritdoc />
    public ImageU8 Apply(ImageU8 image, DeterministicRandom rng)
    {
        for (int i = 0; i < NumLayers; i++)
        {
            var op = Ops[rng.NextInt(Ops.Count)];
            image = ApplyOp(op, image, rng);
        }
        return image;
    }

    /// <summary>One timm AugmentOp call: skip with probability 0.5, else draw the magnitude and apply.</summary>
    internal ImageU8 ApplyOp(string op, ImageU8 image, DeterministicRandom rng)
    {
        if (rng.NextDouble() > 0.5)
        {
            return image;
        }
        double m = Magnitude;
        if (double.IsPositiveInfinity(MagnitudeStd))
        {
            m = rng.Uniform(0, m);
        }
        else if (MagnitudeStd > 0)
        {
            m += MagnitudeStd * rng.NextGaussian();
        }
        m = Math.Max(0.0, Math.Min(m, MagnitudeMax));
        return ApplyAtMagnitude(op, image, m, rng);
    }

    /// <summary>Applies <paramref name="op"/> at magnitude <paramref name="m"/> (random sign drawn from <paramref name="rng"/>).</summary>
    internal ImageU8 ApplyAtMagnitude(string op, ImageU8 image, double m, DeterministicRandom rng)
    {
        double level = m / LevelDenominator;
        switch (op)
        {
            case "AutoContrast":
                PixelOps.AutoContrast(image);
                return image;
            case "Equalize":
                PixelOps.Equalize(image);
                return image;
            case "Invert":
                PixelOps.Invert(image);
                return image;
            case "Rotate":
                return AffineWarp.Rotate(image, Negate(level * 30.0, rng), _interpolation, _fill);
            case "Posterize":
                PixelOps.Posterize(image, (int)(level * 4));
                return image;
            case "PosterizeIncreasing":
                PixelOps.Posterize(image, 4 - (int)(level * 4));
                return image;
            case "Solarize":
                PixelOps.Solarize(image, Math.Min(256, (int)(level * 256)));
                return image;
            case "SolarizeIncreasing":
                PixelOps.Solarize(image, 256 - Math.Min(256, (int)(level * 256)));
                return image;
            case "SolarizeAdd":
                PixelOps.SolarizeAdd(image, Math.Min(128, (int)(level * 110)), 128);
                return image;
            case "Color":
                PixelOps.AdjustSaturation(image, level * 1.8 + 0.1);
                return image;
            case "Contrast":
                PixelOps.AdjustContrast(image, level * 1.8 + 0.1);
                return image;
            case "Brightness":
                PixelOps.AdjustBrightness(image, level * 1.8 + 0.1);
                return image;
            case "Sharpness":
                PixelOps.AdjustSharpness(image, level * 1.8 + 0.1);
                return image;
            case "ColorIncreasing":
                PixelOps.AdjustSaturation(image, IncreasingFactor(level, rng));
                return image;
            case "ContrastIncreasing":
                PixelOps.AdjustContrast(image, IncreasingFactor(level, rng));
                return image;
            case "BrightnessIncreasing":
                PixelOps.AdjustBrightness(image, IncreasingFactor(level, rng));
                return image;
            case "SharpnessIncreasing":
                PixelOps.AdjustSharpness(image, IncreasingFactor(level, rng));
                return image;
            case "ShearX":
                return AffineWarp.Apply(image, [1, Negate(level * 0.3, rng), 0, 0, 1, 0], _interpolation, _fill);
            case "ShearY":
                return AffineWarp.Apply(image, [1, 0, 0, Negate(level * 0.3, rng), 1, 0], _interpolation, _fill);
            case "TranslateXRel":
                return AffineWarp.Apply(image, [1, 0, Negate(level * TranslatePercent, rng) * image.Width, 0, 1, 0], _interpolation, _fill);
            case "TranslateYRel":
                return AffineWarp.Apply(image, [1, 0, 0, 0, 1, Negate(level * TranslatePercent, rng) * image.Height], _interpolation, _fill);
            default:
                throw new ArgumentException($"Unknown RandAugment op '{op}'.", nameof(op));
        }
    }

    private static double IncreasingFactor(double level, DeterministicRandom rng) => Math.Max(0.1, 1.0 + Negate(level * 0.9, rng));

    /// <summary>timm's _randomly_negate: <c>-v if random() &gt; 0.5 else v</c>.</summary>
    private static double Negate(double v, DeterministicRandom rng) => rng.NextDouble() > 0.5 ? -v : v;

    private static double ParseNumber(string text, string config)
    {
        if (text == "inf")
        {
            return double.PositiveInfinity;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new ArgumentException($"Bad number '{text}' in RandAugment config '{config}'.", nameof(config));
    }
}
