using VkD.Generation.Evaluation;
using VkD.Tests.Distillation;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Generation;

/// <summary>FID against pytorch-fid's formula with scipy.linalg.sqrtm, and KID against torch-fidelity's estimator
/// (numpy), ≤ 1e-6 relative, on random and near-singular statistics.</summary>
public sealed class FidKidTests
{
    private static void RelativeEqual(double expected, double actual, double tolerance, string what)
    {
        var rel = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-300);
        Assert.True(rel <= tolerance, $"{what}: expected {expected:R}, got {actual:R} (relative error {rel:E2} > {tolerance:E0})");
    }

    [Theory]
    [InlineData("random0")]
    [InlineData("random1")]
    public void Fid_of_given_statistics_matches_scipy(string name)
    {
        using var f = Fixture.Load("generation", "fid_kid");
        var fid = FrechetDistance.Compute(f[$"{name}.mu1"], f[$"{name}.sigma1"], f[$"{name}.mu2"], f[$"{name}.sigma2"]);
        RelativeEqual(f[$"{name}.fid"].item<double>(), fid, 1e-6, name);
    }

    [Theory]
    [InlineData("singular0")]
    [InlineData("singular1")]
    [InlineData("singular2")]
    [InlineData("full")]
    [InlineData("close")]
    public void Fid_of_feature_sets_matches_scipy_including_rank_deficient_covariances(string name)
    {
        using var f = Fixture.Load("generation", "fid_features");
        using var a = GaussianStatistics.FromFeatures(f[$"{name}.f1"]);
        using var b = GaussianStatistics.FromFeatures(f[$"{name}.f2"]);
        var fid = FrechetDistance.Compute(a, b);
        var expected = f[$"{name}.fid"].item<double>();
        // "close" is a 2.5e-6 difference of traces near 2·32·4: its rounding is absolute, about 1e-13.
        if (name == "close")
        {
            Assert.True(Math.Abs(fid - expected) < 1e-10, $"close: expected {expected:R}, got {fid:R}");
        }
        else
        {
            RelativeEqual(expected, fid, 1e-6, name);
        }
        // A distribution's distance to itself is 0 up to the rounding of the near-zero eigenvalues of a rank-deficient
        // Σ² (scipy gives -3.7e-4 for singular2, whose trace is 2678).
        var self = FrechetDistance.Compute(a, a);
        Assert.True(Math.Abs(self) <= 1e-6 * a.Covariance.trace().item<double>(), $"FID(a, a) = {self:E3}");
    }

    [Fact]
    public void Statistics_are_numpy_cov_of_the_features()
    {
        using var f = Fixture.Load("generation", "fid_kid");
        using var s = GaussianStatistics.FromFeatures(f["stats.features"]);
        Parity.Close(s.Mean, f["stats.mu"], 1e-12, "mean");
        Parity.Close(s.Covariance, f["stats.sigma"], 1e-12, "np.cov(rowvar=False)");
    }

    [Fact]
    public void Kid_matches_torch_fidelity_on_given_subsets_and_on_the_whole_set()
    {
        using var f = Fixture.Load("generation", "fid_kid");
        var ix = Enumerable.Range(0, 5).Select(i => f["kid.ix"][i].data<long>().ToArray()).ToList();
        var iy = Enumerable.Range(0, 5).Select(i => f["kid.iy"][i].data<long>().ToArray()).ToList();
        var kid = KernelInceptionDistance.Compute(f["kid.x"], f["kid.y"], ix, iy);
        RelativeEqual(f["kid.mean"].item<double>(), kid.Mean, 1e-9, "KID mean");
        RelativeEqual(f["kid.std"].item<double>(), kid.Std, 1e-9, "KID std");
        using var x50 = f["kid.x"][..50];
        RelativeEqual(f["kid.full"].item<double>(), KernelInceptionDistance.Mmd2Unbiased(x50, f["kid.y"]), 1e-9, "MMD² of the whole sets");
        // A subset as large as the smaller side is that whole side whatever the draw: every subset's value is the same.
        var whole = KernelInceptionDistance.Compute(x50, f["kid.y"], subsets: 3, subsetSize: 1000, seed: 5);
        RelativeEqual(f["kid.full"].item<double>(), whole.Mean, 1e-9, "KID with m = n");
        Assert.True(whole.Std < 1e-12);
    }

    [Fact]
    public void Kid_subsets_are_seeded_and_distinct_draws_differ()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(1);
        var x = randn([200, 8], generator: g, dtype: ScalarType.Float64);
        var y = randn([200, 8], generator: g, dtype: ScalarType.Float64) + 0.5;
        var a = KernelInceptionDistance.Compute(x, y, subsets: 10, subsetSize: 50, seed: 3);
        var b = KernelInceptionDistance.Compute(x, y, subsets: 10, subsetSize: 50, seed: 3);
        var c = KernelInceptionDistance.Compute(x, y, subsets: 10, subsetSize: 50, seed: 4);
        Assert.Equal(a, b);
        Assert.NotEqual(a.Mean, c.Mean);
        Assert.True(a.Mean > 0.05, $"shifted distributions give a clearly positive KID, got {a.Mean}");
    }

    [Fact]
    public void Mismatched_or_non_finite_statistics_are_refused()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => FrechetDistance.Compute(zeros(3, dtype: ScalarType.Float64), eye(3, dtype: ScalarType.Float64),
            zeros(4, dtype: ScalarType.Float64), eye(4, dtype: ScalarType.Float64)));
        Assert.Contains("[3]", e.Message);
        var bad = eye(3, dtype: ScalarType.Float64);
        bad[0, 0] = tensor(double.NaN);
        Assert.Throws<ArgumentException>(() => FrechetDistance.Compute(zeros(3, dtype: ScalarType.Float64), bad, zeros(3, dtype: ScalarType.Float64), eye(3, dtype: ScalarType.Float64)));
        Assert.Throws<ArgumentException>(() => GaussianStatistics.FromFeatures(zeros(1, 5)));
    }
}
