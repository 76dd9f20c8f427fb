using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Data.Mixing;

/// <summary>Options of <see cref="MixupCutmix"/>; defaults are DeiT's (<c>--mixup 0.8 --cutmix 1.0 --mixup-prob 1
/// --mixup-switch-prob 0.5 --mixup-mode batch --smoothing 0.1</c>).</summary>
public sealed record MixupOptions
{
    /// <summary>Mixup Beta(alpha, alpha) parameter; 0 disables mixup.</summary>
    public double MixupAlpha { get; init; } = 0.8;

    /// <summary>CutMix Beta(alpha, alpha) parameter; 0 disables cutmix.</summary>
    public double CutmixAlpha { get; init; } = 1.0;

    /// <summary>Optional (min, max) box side ratios for CutMix; when set, lambda comes from the box.</summary>
    public (double Min, double Max)? CutmixMinMax { get; init; }

    /// <summary>Probability of mixing a batch at all.</summary>
    public double Probability { get; init; } = 1.0;

    /// <summary>Probability of CutMix rather than Mixup when both are enabled.</summary>
    public double SwitchProbability { get; init; } = 0.5;

    /// <summary>Label smoothing folded into the soft targets.</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Correct lambda to the clipped CutMix box area (timm default true).</summary>
    public bool CorrectLambda { get; init; } = true;

    /// <summary>Number of classes of the soft targets.</summary>
    public required int NumClasses { get; init; }
}

/// <summary>timm's <c>Mixup</c> in batch mode: one lambda and one choice per batch; every sample is mixed with the
/// sample at the mirrored position (<c>x.flip(0)</c>).</summary>
/// <remarks>
/// With probability <c>Probability</c>: if both are enabled, CutMix with probability <c>SwitchProbability</c> (lambda ~
/// Beta(cutmix, cutmix)), else Mixup (lambda ~ Beta(mixup, mixup)). Mixup: <c>x = lam x + (1 - lam) x.flip(0)</c>.
/// CutMix (timm's rand_bbox): cut side <c>int(H sqrt(1 - lam))</c> x <c>int(W sqrt(1 - lam))</c>, centre uniform over
/// the image, box clipped to it, pasted from <c>x.flip(0)</c>, and lambda corrected to <c>1 - box area / (H W)</c>.
/// Targets: <c>lam y1 + (1 - lam) y2</c> with one-hots valued <c>1 - s + s/K</c> / <c>s/K</c>. The batch size must be even.
/// </remarks>
public sealed class MixupCutmix(MixupOptions options)
{
    /// <summary>The options.</summary>
    public MixupOptions Options { get; } = options;

    /// <summary>The draw for one batch: lambda (after box correction), whether CutMix was used, and the box
    /// (y0, y1, x0, x1; half-open) when it was.</summary>
    public (double Lambda, bool UseCutmix, (int Y0, int Y1, int X0, int X1) Box) Sample(int height, int width, DeterministicRandom rng)
    {
        double lam = 1.0;
        bool useCutmix = false;
        var o = Options;
        if (rng.NextDouble() < o.Probability)
        {
            if (o.MixupAlpha > 0 && o.CutmixAlpha > 0)
            {
                useCutmix = rng.NextDouble() < o.SwitchProbability;
                lam = useCutmix ? rng.NextBeta(o.CutmixAlpha, o.CutmixAlpha) : rng.NextBeta(o.MixupAlpha, o.MixupAlpha);
            }
            else if (o.MixupAlpha > 0)
            {
                lam = rng.NextBeta(o.MixupAlpha, o.MixupAlpha);
            }
            else if (o.CutmixAlpha > 0 || o.CutmixMinMax is not null)
            {
                useCutmix = true;
                lam = o.CutmixAlpha > 0 ? rng.NextBeta(o.CutmixAlpha, o.CutmixAlpha) : 1.0;
            }
        }
        if (!useCutmix || lam == 1.0)
        {
            return (lam, false, default);
        }
        var box = RandomBox(height, width, lam, rng);
        if (o.CorrectLambda || o.CutmixMinMax is not null)
        {
            lam = 1.0 - (double)(box.Y1 - box.Y0) * (box.X1 - box.X0) / ((double)height * width);
        }
        return (lam, true, box);
    }

    /// <summary>Mixes <paramref name="images"/> [B, C, H, W] and turns <paramref name="labels"/> [B] into soft targets
    /// [B, num_classes]. Returns new tensors (the inputs are not modified).</summary>
    /// <exception cref="ArgumentException">Odd batch size or wrong ranks.</exception>
    public (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor labels, DeterministicRandom rng)
    {
        if (images.dim() != 4 || labels.dim() != 1 || images.shape[0] != labels.shape[0])
        {
            throw new ArgumentException($"Mixup expects images [B,C,H,W] and labels [B], got [{string.Join(",", images.shape)}] and [{string.Join(",", labels.shape)}].");
        }
        if (images.shape[0] % 2 != 0)
        {
            throw new ArgumentException($"Mixup/CutMix needs an even batch size, got {images.shape[0]}; use dropLast with an even batch size.");
        }
        using var scope = NewDisposeScope();
        int h = (int)images.shape[2], w = (int)images.shape[3];
        var (lam, useCutmix, box) = Sample(h, w, rng);
        var flipped = images.flip(0);
        Tensor mixed;
        if (lam == 1.0)
        {
            mixed = images.clone();
        }
        else if (useCutmix)
        {
            mixed = images.clone();
            var (y0, y1, x0, x1) = box;
            if (y1 > y0 && x1 > x0)
            {
                var region = flipped[.., .., y0..y1, x0..x1];
                mixed[.., .., y0..y1, x0..x1] = region;
            }
        }
        else
        {
            mixed = images.mul(lam).add_(flipped.mul(1.0 - lam));
        }
        var targets = MixTargets(labels, Options.NumClasses, lam, Options.LabelSmoothing);
        return (mixed.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>timm's mixup_target: smoothed one-hots of the labels and of the flipped labels, mixed by lambda.</summary>
    public static Tensor MixTargets(Tensor labels, int numClasses, double lam, double smoothing)
    {
        using var scope = NewDisposeScope();
        double off = smoothing / numClasses, on = 1.0 - smoothing + off;
        var y1 = OneHot(labels, numClasses, on, off);
        var y2 = OneHot(labels.flip(0), numClasses, on, off);
        return y1.mul(lam).add_(y2.mul(1.0 - lam)).MoveToOuterDisposeScope();
    }

    private static Tensor OneHot(Tensor labels, int numClasses, double on, double off)
        => full([labels.shape[0], numClasses], off, ScalarType.Float32).scatter_(1, labels.to(ScalarType.Int64).view(-1, 1), on);

    private (int Y0, int Y1, int X0, int X1) RandomBox(int h, int w, double lam, DeterministicRandom rng)
    {
        if (Options.CutmixMinMax is (double min, double max))
        {
            int cutH = RandInt((int)(h * min), (int)(h * max), rng);
            int cutW = RandInt((int)(w * min), (int)(w * max), rng);
            int yl = RandInt(0, h - cutH, rng);
            int xl = RandInt(0, w - cutW, rng);
            return (yl, yl + cutH, xl, xl + cutW);
        }
        double ratio = Math.Sqrt(1.0 - lam);
        int ch = (int)(h * ratio), cw = (int)(w * ratio);
        int cy = rng.NextInt(h), cx = rng.NextInt(w);
        return (Math.Clamp(cy - ch / 2, 0, h), Math.Clamp(cy + ch / 2, 0, h), Math.Clamp(cx - cw / 2, 0, w), Math.Clamp(cx + cw / 2, 0, w));
    }

    /// <summary>numpy's randint(low, high): uniform in [low, high).</summary>
    private static int RandInt(int low, int high, DeterministicRandom rng)
        => high <= low ? throw new ArgumentException($"CutMix min/max gives an empty range [{low}, {high}).") : low + rng.NextInt(high - low);
}
