using static TorchSharp.torch;

namespace VkD.Distillation.Normalization;

/// <summary>A task-specific normalisation of feature rows [N, D] (one row per image, token or query), applied before
/// the feature loss.</summary>
public interface IFeatureNormalization
{
    /// <summary>Name used by <see cref="NormalizationFactory"/>.</summary>
    string Name { get; }

    /// <summary>Normalises the rows of <paramref name="x"/> [N, D]; differentiable.</summary>
    Tensor Apply(Tensor x);
}

/// <summary>Shape checks shared by the normalisations.</summary>
internal static class NormalizationChecks
{
    public static void RequireRows(Tensor x, string who, int minRows)
    {
        if (x.ndim != 2)
        {
            throw new ArgumentException($"{who} expects features [N, D], got [{string.Join(", ", x.shape)}].", nameof(x));
        }
        if (x.shape[0] < minRows)
        {
            throw new ArgumentException(
                $"{who} needs at least {minRows} rows, got features [{string.Join(", ", x.shape)}].", nameof(x));
        }
    }
}
