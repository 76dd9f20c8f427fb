using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

/// <summary>Tensor comparisons with the largest deviation in the failure message.</summary>
internal static class Parity
{
    public static double MaxAbsDiff(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        return (actual.detach().to_type(ScalarType.Float64) - expected.detach().to_type(ScalarType.Float64))
            .abs().max().item<double>();
    }

    /// <summary>max |actual - expected| &lt;= tolerance * max(1, max |expected|): absolute for values up to 1, relative
    /// to the largest magnitude above (float32 rounding grows with the magnitude of gradients).</summary>
    public static void Close(Tensor actual, Tensor expected, double tolerance, string what)
    {
        var diff = MaxAbsDiff(actual, expected);
        using var magnitude = expected.detach().abs().max().to_type(ScalarType.Float64);
        var bound = tolerance * Math.Max(1.0, magnitude.item<double>());
        Assert.True(diff <= bound, $"{what}: max |diff| = {diff:E3} > {bound:E2}");
    }

    /// <summary>Relative to the largest magnitude of <paramref name="expected"/>.</summary>
    public static void RelativeClose(Tensor actual, Tensor expected, double tolerance, string what)
    {
        var diff = MaxAbsDiff(actual, expected);
        using var scale = expected.detach().abs().max().to_type(ScalarType.Float64);
        var rel = diff / Math.Max(scale.item<double>(), 1e-30);
        Assert.True(rel <= tolerance, $"{what}: max |diff| / max |expected| = {rel:E3} > {tolerance:E1}");
    }

    /// <summary>max |W^T W - I| for W [n, k].</summary>
    public static double OrthogonalityError(Tensor w)
    {
        using var scope = NewDisposeScope();
        var wd = w.detach().to_type(ScalarType.Float64);
        return (wd.t().matmul(wd) - eye(w.shape[1], dtype: ScalarType.Float64)).abs().max().item<double>();
    }

    public static Dictionary<string, Tensor> StateWithPrefix(VkD.Tests.Infrastructure.Fixture f, string prefix) =>
        f.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(k => k[prefix.Length..], k => f[k]);
}
