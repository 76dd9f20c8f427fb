using static TorchSharp.torch;

namespace VkD.Distillation.Normalization;

/// <summary>Per-channel standardisation across rows, <c>(x - x.mean(0)) / x.std(0)</c> with the unbiased std, as the
/// VkD ViDT criterion applies to both student and teacher. No eps by default (as the reference); with eps &gt; 0 the
/// divisor is <c>sqrt(var + eps)</c>.</summary>
public sealed class BatchStandardization : IFeatureNormalization
{
    /// <summary>Creates the normalisation.</summary>
    public BatchStandardization(double eps = 0.0)
    {
        if (eps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be >= 0.");
        }
        Eps = eps;
    }

    /// <summary>Added to the unbiased variance (0 = exactly the reference).</summary>
    public double Eps { get; }

    /// <inheritdoc />
    public string Name => "batchstd";

    /// <inheritdoc />
    public Tensor Apply(Tensor x)
    {
        NormalizationChecks.RequireRows(x, "batchstd", 2);
        using var scope = NewDisposeScope();
        var centred = x - x.mean(new long[] { 0 }, keepdim: true);
        var divisor = Eps == 0.0
            ? x.std(0, unbiased: true, keepdim: true)
            : (x.var(0, unbiased: true, keepdim: true) + Eps).sqrt();
        return (centred / divisor).MoveToOuterDisposeScope();
    }
}
