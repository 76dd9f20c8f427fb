using static TorchSharp.torch;

namespace VkD.Distillation.Normalization;

/// <summary>How <see cref="Whitening"/> builds the whitening matrix from the covariance.</summary>
public enum WhiteningMethod
{
    /// <summary>W-MSE's <c>Whitening2d</c>: <c>W = L^{-1}</c> with <c>L</c> the Cholesky factor of the covariance.</summary>
    Cholesky,

    /// <summary>Zero-phase (ZCA): <c>W = Q diag(1/sqrt(lambda)) Q^T</c> from <c>eigh</c> of the covariance.</summary>
    Zca,
}

/// <summary>What <see cref="Whitening"/> shrinks the covariance towards.</summary>
public enum ShrinkageTarget
{
    /// <summary><c>I</c>: <c>C' = (1 - s) C + s I</c> (depends on the features' scale).</summary>
    Identity,

    /// <summary><c>(tr C / D) I</c>, Ledoit and Wolf's target: <c>C' = (1 - s) C + s (tr C / D) I</c>, the same for
    /// features at any scale (a batch of 50 pooled CNN features has variances far from 1).</summary>
    ScaledIdentity,
}

/// <summary>
/// Whitening to identity covariance over the rows: centre, form <c>C = Xc^T Xc / (N - 1)</c>, shrink
/// <c>C' = (1 - s) C + s T</c> (<c>T</c> = <c>I</c>, or <c>(tr C / D) I</c> with <see cref="ShrinkageTarget.ScaledIdentity"/>),
/// and return <c>Xc W^T</c> with <c>W C' W^T = I</c>. With shrinkage 0 the covariance must
/// be non-singular, which needs more rows than features (N &gt; D); otherwise a clear exception says so. Use shrinkage
/// &gt; 0 for fewer rows than features.
/// </summary>
public sealed class Whitening : IFeatureNormalization
{
    /// <summary>Creates the whitening with the given method, shrinkage in [0, 1] and shrinkage target.</summary>
    public Whitening(WhiteningMethod method = WhiteningMethod.Cholesky, double shrinkage = 0.0, ShrinkageTarget target = ShrinkageTarget.Identity)
    {
        if (shrinkage is < 0 or > 1 || double.IsNaN(shrinkage))
        {
            throw new ArgumentOutOfRangeException(nameof(shrinkage), shrinkage, "Whitening shrinkage must be in [0, 1].");
        }
        Method = method;
        Shrinkage = shrinkage;
        Target = target;
    }

    /// <summary>Cholesky or ZCA.</summary>
    public WhiteningMethod Method { get; }

    /// <summary>Weight s of the target in <c>(1 - s) C + s T</c>.</summary>
    public double Shrinkage { get; }

    /// <summary>The shrinkage target <c>T</c>.</summary>
    public ShrinkageTarget Target { get; }

    /// <inheritdoc />
    public string Name => Method == WhiteningMethod.Cholesky ? "whiten" : "whiten_zca";

    /// <inheritdoc />
    public Tensor Apply(Tensor x)
    {
        NormalizationChecks.RequireRows(x, "whiten", 2);
        var n = x.shape[0];
        var d = x.shape[1];
        using var scope = NewDisposeScope();
        if (x.isnan().any().item<bool>())
        {
            throw new ArgumentException($"whiten got NaN in its input features [{n}, {d}].", nameof(x));
        }
        if (Shrinkage == 0.0 && n <= d)
        {
            throw new ArgumentException(
                $"whiten: the covariance of features [{n}, {d}] is singular (rows N = {n} <= features D = {d}); " +
                "use more rows than features or a shrinkage > 0.", nameof(x));
        }
        var centred = x - x.mean(new long[] { 0 }, keepdim: true);
        var cov = centred.t().matmul(centred) / (n - 1);
        var id = eye(d, dtype: x.dtype, device: x.device);
        if (Shrinkage > 0.0)
        {
            var target = Target == ShrinkageTarget.ScaledIdentity ? id * (cov.trace() / d) : id;
            cov = (1.0 - Shrinkage) * cov + Shrinkage * target;
        }
        Tensor whitener;
        if (Method == WhiteningMethod.Cholesky)
        {
            var (factor, info) = linalg.cholesky_ex(cov);
            if (info.item<int>() != 0)
            {
                throw new ArgumentException(
                    $"whiten: the covariance of features [{n}, {d}] is not positive definite (Cholesky failed at " +
                    $"pivot {info.item<int>()}); increase the shrinkage.", nameof(x));
            }
            whitener = linalg.solve_triangular(factor, id, upper: false);
        }
        else
        {
            var (values, vectors) = linalg.eigh(cov);
            var smallest = values.min().to_type(ScalarType.Float64).item<double>();
            if (smallest <= 0.0)
            {
                throw new ArgumentException(
                    $"whiten_zca: the covariance of features [{n}, {d}] is singular (smallest eigenvalue {smallest:G4}); " +
                    "increase the shrinkage.", nameof(x));
            }
            whitener = vectors.matmul(values.rsqrt().unsqueeze(1) * vectors.t());
        }
        return centred.matmul(whitener.t()).MoveToOuterDisposeScope();
    }
}
