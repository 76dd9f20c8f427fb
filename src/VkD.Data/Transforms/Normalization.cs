using VkD.Data.Imaging;

namespace VkD.Data.Transforms;

/// <summary>ToTensor + Normalize: <c>(v / 255 - mean[c]) / std[c]</c> in float32, written as CHW. Computed through a
/// 256-entry table per channel with torchvision's exact float32 operations, so values equal PyTorch's bit for bit.</summary>
public sealed class Normalization
{
    private readonly float[] _lut;

    /// <summary>Creates a normalisation with per-channel statistics on the [0, 1] scale (1 or 3 channels).</summary>
    public Normalization(IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        if (mean.Count != std.Count || mean.Count is not (1 or 3))
        {
            throw new ArgumentException($"Mean and std need 1 or 3 equal-length entries, got {mean.Count} and {std.Count}.");
        }
        if (std.Any(s => s <= 0))
        {
            throw new ArgumentException($"Std entries must be positive, got [{string.Join(", ", std)}].");
        }
        Mean = mean.ToArray();
        Std = std.ToArray();
        _lut = new float[256 * Channels];
        for (int c = 0; c < Channels; c++)
        {
            float m = (float)Mean[c], s = (float)Std[c];
            for (int v = 0; v < 256; v++)
            {
                _lut[c * 256 + v] = ((float)v / 255f - m) / s;
            }
        }
    }

    /// <summary>ImageNet statistics used by timm/DeiT: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).</summary>
    public static Normalization ImageNet { get; } = new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    /// <summary>Mean per channel (on [0, 1]).</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>Std per channel (on [0, 1]).</summary>
    public IReadOnlyList<double> Std { get; }

    /// <summary>Number of output channels.</summary>
    public int Channels => Mean.Count;

    /// <summary>The mean as 8-bit values, <c>min(255, round(255 * mean))</c>: timm's fill colour for RandAugment.</summary>
    public byte[] MeanBytes => Mean.Select(m => (byte)Math.Min(255, Math.Round(255 * m, MidpointRounding.ToEven))).ToArray();

    /// <summary>A normalisation that repeats one grey statistic over <paramref name="channels"/> channels.</summary>
    public static Normalization Grey(double mean, double std, int channels = 1)
        => new(Enumerable.Repeat(mean, channels).ToArray(), Enumerable.Repeat(std, channels).ToArray());

    /// <summary>Per-channel mean and std of a dataset's images on the [0, 1] scale (population std over all pixels),
    /// from at most <paramref name="maxImages"/> images spread evenly over the set.</summary>
    public static Normalization Compute(Datasets.IImageDataset dataset, int channels = 3, int maxImages = 10_000)
    {
        var sum = new double[channels];
        var sumSq = new double[channels];
        long count = 0;
        int n = dataset.Count, take = Math.Min(n, maxImages);
        for (int k = 0; k < take; k++)
        {
            var img = dataset.LoadImage((int)((long)k * n / take));
            if (channels == 3)
            {
                img = img.ToRgb();
            }
            else
            {
                img = img.ToGrey();
            }
            var d = img.Data;
            for (int i = 0; i < d.Length; i += channels)
            {
                for (int c = 0; c < channels; c++)
                {
                    double v = d[i + c] / 255.0;
                    sum[c] += v;
                    sumSq[c] += v * v;
                }
            }
            count += d.Length / channels;
        }
        var mean = sum.Select(s => s / count).ToArray();
        var std = sumSq.Select((s, c) => Math.Sqrt(Math.Max(s / count - mean[c] * mean[c], 1e-12))).ToArray();
        return new Normalization(mean, std);
    }

    /// <summary>Writes the normalised CHW floats of <paramref name="image"/> into <paramref name="destination"/>.</summary>
    public unsafe void Apply(ImageU8 image, Span<float> destination)
    {
        int c = Channels, plane = image.Width * image.Height;
        if (image.Channels != c)
        {
            throw new ArgumentException($"Normalization expects {c}-channel images, got {image.Channels} channels.");
        }
        if (destination.Length < plane * c)
        {
            throw new ArgumentException($"Destination holds {destination.Length} floats, need {plane * c}.");
        }
        fixed (byte* src = image.Data)
        fixed (float* lut = _lut, dst = destination)
        {
            if (c == 1)
            {
                for (int i = 0; i < plane; i++)
                {
                    dst[i] = lut[src[i]];
                }
                return;
            }
            float* d0 = dst, d1 = dst + plane, d2 = dst + 2 * plane;
            float* l1 = lut + 256, l2 = lut + 512;
            byte* s = src;
            for (int i = 0; i < plane; i++, s += 3)
            {
                d0[i] = lut[s[0]];
                d1[i] = l1[s[1]];
                d2[i] = l2[s[2]];
            }
        }
    }
}
