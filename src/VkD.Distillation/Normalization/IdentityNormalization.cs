using static TorchSharp.torch;

namespace VkD.Distillation.Normalization;

/// <summary>No normalisation (the classification student side).</summary>
public sealed class IdentityNormalization : IFeatureNormalization
{
    /// <inheritdoc />
    public string Name => "none";

    /// <inheritdoc />
    public Tensor Apply(Tensor x) => x.alias();
}

/// <summary>Creates normalisations by name: <c>layernorm</c>, <c>batchstd</c>, <c>whiten</c> (Cholesky),
/// <c>whiten_zca</c>, <c>none</c>.</summary>
public static class NormalizationFactory
{
    /// <summary>The accepted names.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "layernorm", "batchstd", "whiten", "whiten_zca", "none" };

    /// <summary>Creates the normalisation <paramref name="name"/>; <paramref name="eps"/> is the layer-norm / batch-std
    /// eps (null = its default) and <paramref name="shrinkage"/> the whitening shrinkage.</summary>
    public static IFeatureNormalization Create(string name, double? eps = null, double shrinkage = 0.0)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "layernorm" or "layer_norm" or "ln" => new LayerStandardization(eps ?? 1e-5),
            "batchstd" or "batch_std" => new BatchStandardization(eps ?? 0.0),
            "whiten" or "whiten_cholesky" => new Whitening(WhiteningMethod.Cholesky, shrinkage),
            "whiten_zca" or "zca" => new Whitening(WhiteningMethod.Zca, shrinkage),
            "none" or "identity" => new IdentityNormalization(),
            _ => throw new ArgumentException(
                $"Unknown normalisation '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}
