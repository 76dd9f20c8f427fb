using static TorchSharp.torch;

namespace VkD.Tests.Detection.Training;

/// <summary>Helpers for the detection-training parity tests (fixtures from tools/fixtures/make_detection_loss_fixtures.py).</summary>
internal static class DetectionTrainingFixtures
{
    public const string Part = "detection_training";

    /// <summary>Asserts equal shapes and max |expected − actual| ≤ <paramref name="tol"/>; returns the max error.</summary>
    public static double AssertClose(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        using var scope = NewDisposeScope();
        var worst = expected.numel() == 0 ? 0.0 : (expected.to(float64) - actual.to(float64)).abs().max().item<double>();
        Assert.True(worst <= tol, $"{what}: max abs diff {worst:g3} exceeds {tol:g3}");
        return worst;
    }

    /// <summary>As <see cref="AssertClose"/> with the tolerance scaled by max(1, max |expected|): float32 losses of
    /// size ~100 carry rounding of ~1e-5 from the order of their reductions alone.</summary>
    public static double AssertRelativeClose(Tensor expected, Tensor actual, double tol, string what)
    {
        using var scope = NewDisposeScope();
        var scale = expected.numel() == 0 ? 1.0 : Math.Max(1.0, expected.to(float64).abs().max().item<double>());
        return AssertClose(expected, actual, tol * scale, what) / scale;
    }
}
