using static TorchSharp.torch;

namespace VkD.Generation.Evaluation;

/// <summary>A Gaussian fit of feature vectors: the mean [D] and the unbiased covariance [D, D] (<c>np.cov(f,
/// rowvar=False)</c>), in float64.</summary>
public sealed class GaussianStatistics : IDisposable
{
    /// <summary>Wraps a mean [D] and covariance [D, D] (converted to float64 copies).</summary>
    public GaussianStatistics(Tensor mean, Tensor covariance)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(covariance);
        if (mean.ndim != 1 || covariance.ndim != 2 || covariance.shape[0] != mean.shape[0] || covariance.shape[1] != mean.shape[0])
        {
            throw new ArgumentException($"Gaussian statistics need a mean [D] and a covariance [D, D]; got [{string.Join(", ", mean.shape)}] and [{string.Join(", ", covariance.shape)}].");
        }
        // The detached and converted intermediates are freed with the scope; only the two copies outlive it.
        using var scope = NewDisposeScope();
        Mean = mean.detach().to(float64, CPU).clone().DetachFromDisposeScope();
        Covariance = covariance.detach().to(float64, CPU).clone().DetachFromDisposeScope();
    }

    /// <summary>Mean [D].</summary>
    public Tensor Mean { get; }

    /// <summary>Unbiased covariance [D, D].</summary>
    public Tensor Covariance { get; }

    /// <summary>Feature dimension D.</summary>
    public long Dimension => Mean.shape[0];

    /// <summary>The fit of <paramref name="features"/> [N, D], N ≥ 2.</summary>
    public static GaussianStatistics FromFeatures(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.ndim != 2 || features.shape[0] < 2)
        {
            throw new ArgumentException($"Gaussian statistics need features [N >= 2, D]; got [{string.Join(", ", features.shape)}].", nameof(features));
        }
        using var scope = NewDisposeScope();
        var f = features.detach().to(float64, CPU);
        var mean = f.mean([0]);
        var centred = f - mean;
        var cov = centred.t().matmul(centred) / (f.shape[0] - 1);
        return new GaussianStatistics(mean, cov);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Mean.Dispose();
        Covariance.Dispose();
    }
}
