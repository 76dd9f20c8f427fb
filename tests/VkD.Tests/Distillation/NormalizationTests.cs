using VkD.Distillation.Normalization;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

/// <summary>The normalisations against PyTorch 1.13 (forward and gradient).</summary>
public class NormalizationTests
{
    public static TheoryData<string, string, double?, double> Cases() => new()
    {
        { "layernorm", "layernorm", null, 0.0 },
        { "batchstd", "batchstd", null, 0.0 },
        { "batchstd_eps", "batchstd", 1e-3, 0.0 },
        { "whiten", "whiten", null, 0.0 },
        { "whiten_s01", "whiten", null, 0.1 },
        { "whiten_zca", "whiten_zca", null, 0.0 },
        { "whiten_zca_s01", "whiten_zca", null, 0.1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Normalisation_matches_PyTorch_forward_and_gradient(string fixtureKey, string name, double? eps, double shrinkage)
    {
        using var f = Fixture.Load("core", "normalisations");
        var norm = NormalizationFactory.Create(name, eps, shrinkage);
        using var scope = NewDisposeScope();
        var x = f["x"].clone().requires_grad_(true);
        var y = norm.Apply(x);
        (y * f[$"{fixtureKey}.upstream"]).sum().backward();
        Parity.Close(y, f[$"{fixtureKey}.y"], 1e-5, "y");
        Parity.Close(x.grad!, f[$"{fixtureKey}.grad"], 1e-5, "d/dx");
    }

    [Theory]
    [InlineData("whiten")]
    [InlineData("whiten_zca")]
    public void Whitening_gives_identity_covariance(string name)
    {
        using var f = Fixture.Load("core", "normalisations");
        using var scope = NewDisposeScope();
        var y = NormalizationFactory.Create(name).Apply(f["x"].to_type(ScalarType.Float64));
        var cov = y.t().matmul(y) / (y.shape[0] - 1);
        Parity.Close(cov, eye(6, dtype: ScalarType.Float64), 1e-10, "covariance of the whitened rows");
    }

    [Fact]
    public void Whitening_with_shrinkage_works_with_fewer_rows_than_features()
    {
        using var f = Fixture.Load("core", "normalisations");
        using var scope = NewDisposeScope();
        var y = new Whitening(WhiteningMethod.Cholesky, 0.2).Apply(f["few"]);
        Parity.Close(y, f["few_whiten_s02.y"], 1e-5, "4 rows x 6 features, shrinkage 0.2");
    }

    [Theory]
    [InlineData(WhiteningMethod.Cholesky)]
    [InlineData(WhiteningMethod.Zca)]
    public void Whitening_without_shrinkage_rejects_fewer_rows_than_features_naming_the_shape(WhiteningMethod method)
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => new Whitening(method).Apply(randn(4, 6)));
        Assert.Contains("[4, 6]", ex.Message);
        Assert.Contains("shrinkage", ex.Message);
    }

    [Fact]
    public void Whitening_rejects_NaN_input_naming_the_shape()
    {
        using var scope = NewDisposeScope();
        var x = randn(10, 3);
        x[2, 1] = tensor(float.NaN);
        var ex = Assert.Throws<ArgumentException>(() => new Whitening().Apply(x));
        Assert.Contains("NaN", ex.Message);
        Assert.Contains("[10, 3]", ex.Message);
    }

    [Fact]
    public void Normalisations_reject_non_matrix_input_and_unknown_names()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => new BatchStandardization().Apply(randn(2, 3, 4)));
        Assert.Contains("[2, 3, 4]", ex.Message);
        Assert.Throws<ArgumentException>(() => new BatchStandardization().Apply(randn(1, 3)));
        var unknown = Assert.Throws<ArgumentException>(() => NormalizationFactory.Create("batchnorm"));
        Assert.Contains("layernorm", unknown.Message);
        Assert.Equal("none", NormalizationFactory.Create("none").Name);
    }
}
