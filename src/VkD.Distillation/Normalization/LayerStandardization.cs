using static TorchSharp.torch;

namespace VkD.Distillation.Normalization;

/// <summary>Per-sample standardisation over the features: <c>F.layer_norm(x, (D,))</c> without affine (biased
/// variance, eps 1e-5). The VkD classification code applies it to the teacher only.</summary>
public sealed class LayerStandardization : IFeatureNormalization
{
    /// <summary>Creates the normalisation with <paramref name="eps"/> added to the variance.</summary>
    public LayerStandardization(double eps = 1e-5) => Eps = eps;

    /// <summary>Added to the variance.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    public string Name => "layernorm";

    /// <inheritdoc />
    public Tensor Apply(Tensor x)
    {
        NormalizationChecks.RequireRows(x, "layernorm", 1);
        return nn.functional.layer_norm(x, new[] { x.shape[1] }, eps: Eps);
    }
}
