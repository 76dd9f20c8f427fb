using VkD.Distillation.Normalization;
using VkD.Tests.Distillation;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Generation;

/// <summary>Teacher whitening for D's distillation: shrinkage towards (tr C / D) I against numpy on a batch with
/// fewer rows than features at a scale far from 1, and identity covariance on a full-rank batch.</summary>
public sealed class WhiteningShrinkageTests
{
    [Theory]
    [InlineData(WhiteningMethod.Cholesky, "cholesky", 0.1)]
    [InlineData(WhiteningMethod.Cholesky, "cholesky", 0.5)]
    [InlineData(WhiteningMethod.Zca, "zca", 0.1)]
    [InlineData(WhiteningMethod.Zca, "zca", 0.5)]
    public void Scaled_identity_shrinkage_matches_numpy(WhiteningMethod method, string key, double shrinkage)
    {
        using var f = Fixture.Load("generation", "whitening");
        using var scope = NewDisposeScope();
        var y = new Whitening(method, shrinkage, ShrinkageTarget.ScaledIdentity).Apply(f["x"]);
        Parity.RelativeClose(y, f[$"{key}_s{shrinkage.ToString(System.Globalization.CultureInfo.InvariantCulture)}"], 1e-9, $"{key} s={shrinkage}");
    }

    [Fact]
    public void Scaled_identity_shrinkage_is_scale_invariant_and_identity_shrinkage_is_not()
    {
        using var f = Fixture.Load("generation", "whitening");
        using var scope = NewDisposeScope();
        var x = f["x"];
        var scaled = new Whitening(WhiteningMethod.Zca, 0.2, ShrinkageTarget.ScaledIdentity);
        Parity.RelativeClose(scaled.Apply(x * 1000), scaled.Apply(x), 1e-9, "x1000");
        var plain = new Whitening(WhiteningMethod.Zca, 0.2);
        Assert.True(Parity.MaxAbsDiff(plain.Apply(x * 1000), plain.Apply(x)) > 0.1);
    }

    [Theory]
    [InlineData(WhiteningMethod.Cholesky)]
    [InlineData(WhiteningMethod.Zca)]
    public void A_full_rank_batch_gets_identity_covariance(WhiteningMethod method)
    {
        using var f = Fixture.Load("generation", "whitening");
        using var scope = NewDisposeScope();
        var y = new Whitening(method).Apply(f["full"]);
        var cov = y.t().matmul(y) / (y.shape[0] - 1);
        Parity.Close(cov, eye(8, dtype: ScalarType.Float64), 1e-10, "covariance of the whitened rows");
    }
}
