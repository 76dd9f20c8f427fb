using static TorchSharp.torch;

namespace VkD.Generation.Evaluation;

/// <summary>
/// The Fréchet distance of two Gaussian fits (the FID formula of Heusel et al. as pytorch-fid computes it):
/// <c>|μ1 − μ2|² + tr Σ1 + tr Σ2 − 2 tr Re sqrtm(Σ1 Σ2)</c>, in float64.
/// </summary>
/// <remarks>
/// scipy's <c>sqrtm</c> takes the Schur form <c>Σ1Σ2 = Z T Zᴴ</c> and the upper-triangular square root <c>R</c> of
/// <c>T</c> with <c>R_ii = √T_ii</c> (principal branch); the trace the formula needs is therefore
/// <c>Re Σ √λ_i</c> over the eigenvalues of <c>Σ1Σ2</c>, which is what is computed here (LAPACK's <c>geev</c>
/// through <c>torch.linalg.eigvals</c>, the same Hessenberg-QR eigenvalues as the Schur form). For rank-deficient
/// covariances the near-zero eigenvalues come out tiny and of either sign; their square roots are then tiny or
/// imaginary, and the real part drops the imaginary ones, as pytorch-fid's <c>covmean.real</c> does. The trace is
/// finite in every case, so pytorch-fid's retry with 1e-6 added to the diagonals (taken when scipy's triangular
/// recursion overflows) is not needed.
/// </remarks>
public static class FrechetDistance
{
    /// <summary>The distance between <paramref name="a"/> and <paramref name="b"/>.</summary>
    public static double Compute(GaussianStatistics a, GaussianStatistics b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return Compute(a.Mean, a.Covariance, b.Mean, b.Covariance);
    }

    /// <summary>The distance between N(<paramref name="mean1"/>, <paramref name="covariance1"/>) and
    /// N(<paramref name="mean2"/>, <paramref name="covariance2"/>).</summary>
    public static double Compute(Tensor mean1, Tensor covariance1, Tensor mean2, Tensor covariance2)
    {
        ArgumentNullException.ThrowIfNull(mean1);
        ArgumentNullException.ThrowIfNull(covariance1);
        ArgumentNullException.ThrowIfNull(mean2);
        ArgumentNullException.ThrowIfNull(covariance2);
        var d = mean1.shape[0];
        if (mean1.ndim != 1 || mean2.ndim != 1 || mean2.shape[0] != d || !covariance1.shape.SequenceEqual([d, d]) || !covariance2.shape.SequenceEqual([d, d]))
        {
            throw new ArgumentException($"FID: statistics of different shapes: means [{string.Join(", ", mean1.shape)}] and [{string.Join(", ", mean2.shape)}], " +
                $"covariances [{string.Join(", ", covariance1.shape)}] and [{string.Join(", ", covariance2.shape)}]; compute both with the same feature network.");
        }
        using var scope = NewDisposeScope();
        var m1 = mean1.to(float64, CPU);
        var m2 = mean2.to(float64, CPU);
        var s1 = covariance1.to(float64, CPU);
        var s2 = covariance2.to(float64, CPU);
        if (!isfinite(s1).all().item<bool>() || !isfinite(s2).all().item<bool>() || !isfinite(m1).all().item<bool>() || !isfinite(m2).all().item<bool>())
        {
            throw new ArgumentException("FID: the statistics hold NaN or inf; the features they come from are not finite.");
        }
        var diff = m1 - m2;
        var traceSqrt = TraceOfSquareRoot(s1.matmul(s2));
        return diff.dot(diff).item<double>() + s1.trace().item<double>() + s2.trace().item<double>() - 2 * traceSqrt;
    }

    /// <summary><c>tr Re sqrtm(A)</c> for a square float64 matrix: the sum of the real parts of the principal square
    /// roots of its eigenvalues.</summary>
    public static double TraceOfSquareRoot(Tensor matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        using var scope = NewDisposeScope();
        var eigenvalues = linalg.eigvals(matrix.to(float64, CPU));
        return eigenvalues.sqrt().real.sum().item<double>();
    }
}
