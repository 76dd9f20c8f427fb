namespace VkD.Data.Transforms;

/// <summary>What <see cref="RandomErasing"/> writes into the erased box.</summary>
public enum ErasingMode
{
    /// <summary>Zeros (the normalised mean).</summary>
    Const,

    /// <summary>One standard-normal value per channel.</summary>
    Rand,

    /// <summary>An independent standard-normal value per pixel and channel (DeiT's <c>--remode pixel</c>).</summary>
    Pixel,
}

/// <summary>timm's RandomErasing on the normalised CHW image: with probability <c>p</c>, <c>count</c> boxes (uniform in
/// [minCount, maxCount]) each get up to 10 attempts: area fraction uniform in [minArea, maxArea] divided by count,
/// log-uniform aspect in [minAspect, 1/minAspect], <c>h = round(sqrt(area * aspect))</c>,
/// <c>w = round(sqrt(area / aspect))</c>; the first with <c>w &lt; W</c> and <c>h &lt; H</c> is placed at a uniform
/// position and filled per <see cref="ErasingMode"/>.</summary>
public sealed class RandomErasing(double probability = 0.25, ErasingMode mode = ErasingMode.Pixel, int minCount = 1, int maxCount = 1,
    double minArea = 0.02, double maxArea = 1.0 / 3.0, double minAspect = 0.3) : ITensorTransform
{
    /// <inheritdoc />
    public void Apply(Span<float> chw, int channels, int height, int width, DeterministicRandom rng)
    {
        if (rng.NextDouble() > probability)
        {
            return;
        }
        double area = (double)height * width;
        int count = minCount == maxCount ? minCount : rng.NextIntInclusive(minCount, maxCount);
        double logMin = Math.Log(minAspect), logMax = Math.Log(1.0 / minAspect);
        for (int k = 0; k < count; k++)
        {
            for (int attempt = 0; attempt < 10; attempt++)
            {
                double targetArea = rng.Uniform(minArea, maxArea) * area / count;
                double aspect = Math.Exp(rng.Uniform(logMin, logMax));
                int h = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
                int w = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
                if (w < width && h < height)
                {
                    int top = rng.NextIntInclusive(0, height - h);
                    int left = rng.NextIntInclusive(0, width - w);
                    Fill(chw, channels, height, width, top, left, h, w, rng);
                    break;
                }
            }
        }
    }

    private void Fill(Span<float> chw, int channels, int height, int width, int top, int left, int h, int w, DeterministicRandom rng)
    {
        for (int c = 0; c < channels; c++)
        {
            float colour = mode == ErasingMode.Rand ? (float)rng.NextGaussian() : 0f;
            for (int y = top; y < top + h; y++)
            {
                var row = chw.Slice((c * height + y) * width + left, w);
                if (mode == ErasingMode.Pixel)
                {
                    for (int x = 0; x < w; x++)
                    {
                        row[x] = (float)rng.NextGaussian();
                    }
                }
                else
                {
                    row.Fill(colour);
                }
            }
        }
    }
}
