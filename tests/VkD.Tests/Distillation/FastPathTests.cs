using VkD.Distillation.Projectors;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

/// <summary>The low-rank fast path against PyTorch's exact n x n formulation (issue #7).</summary>
public class FastPathTests
{
    private static (Tensor W, Tensor Grad) WeightAndGradient(Tensor x0, Tensor upstream, OrthogonalMap map, bool fast)
    {
        var x = x0.clone().requires_grad_(true);
        var w = fast
            ? OrthogonalMaps.Fast(x, map, HouseholderDiagonal.Sign)
            : OrthogonalMaps.Reference(x, map, HouseholderDiagonal.Sign);
        (w * upstream).sum().backward();
        return (w.detach(), x.grad!.clone());
    }

    private static Tensor RandomParameter(long n, long k, double scale, ScalarType dtype, int seed)
    {
        var g = new TorchSharp.torch.Generator((ulong)seed);
        var x = randn(new[] { n, k }, dtype: dtype, generator: g) * scale;
        // Householder reads only the signs of the diagonal; give it both signs.
        var signs = (rand(new[] { k }, dtype: dtype, generator: g).lt(0.5).to_type(dtype) * 2 - 1);
        x.diagonal().copy_(signs);
        return x;
    }

    [Theory]
    [InlineData(OrthogonalMap.MatrixExp, 8, 8, 0.5)]
    [InlineData(OrthogonalMap.MatrixExp, 24, 8, 0.5)]
    [InlineData(OrthogonalMap.MatrixExp, 24, 8, 3.0)]
    [InlineData(OrthogonalMap.MatrixExp, 200, 16, 0.5)]
    [InlineData(OrthogonalMap.Cayley, 8, 8, 0.5)]
    [InlineData(OrthogonalMap.Cayley, 24, 8, 0.5)]
    [InlineData(OrthogonalMap.Cayley, 24, 8, 3.0)]
    [InlineData(OrthogonalMap.Cayley, 200, 16, 0.5)]
    [InlineData(OrthogonalMap.Householder, 8, 8, 0.5)]
    [InlineData(OrthogonalMap.Householder, 24, 8, 0.5)]
    [InlineData(OrthogonalMap.Householder, 24, 8, 3.0)]
    [InlineData(OrthogonalMap.Householder, 200, 16, 0.5)]
    public void Fast_and_reference_paths_give_the_same_W_and_gradient(OrthogonalMap map, long n, long k, double scale)
    {
        using var scope = NewDisposeScope();
        var x = RandomParameter(n, k, scale, ScalarType.Float64, 17);
        var upstream = randn(new[] { n, k }, dtype: ScalarType.Float64);
        var (wFast, gFast) = WeightAndGradient(x, upstream, map, fast: true);
        var (wRef, gRef) = WeightAndGradient(x, upstream, map, fast: false);
        Parity.Close(wFast, wRef, 1e-10, "float64 W");
        Parity.RelativeClose(gFast, gRef, 1e-9, "float64 d/dX");
        Assert.True(Parity.OrthogonalityError(wFast) < 1e-12);

        // float32: the fast path must be as accurate as PyTorch's formulation, measured against the float64 truth.
        var x32 = x.to_type(ScalarType.Float32);
        var up32 = upstream.to_type(ScalarType.Float32);
        var (wFast32, gFast32) = WeightAndGradient(x32, up32, map, fast: true);
        var (wRef32, gRef32) = WeightAndGradient(x32, up32, map, fast: false);
        var fastError = Parity.MaxAbsDiff(wFast32, wRef);
        var refError = Parity.MaxAbsDiff(wRef32, wRef);
        Assert.True(fastError <= Math.Max(1e-5, 4 * refError), $"float32 W error {fastError:E2} vs reference's {refError:E2}");
        var fastGradError = Parity.MaxAbsDiff(gFast32, gRef);
        var refGradError = Parity.MaxAbsDiff(gRef32, gRef);
        var gradScale = gRef.abs().max().item<double>();
        Assert.True(fastGradError <= Math.Max(1e-4 * gradScale, 4 * refGradError),
            $"float32 gradient error {fastGradError:E2} vs reference's {refGradError:E2} (scale {gradScale:E2})");
        Assert.True(Parity.OrthogonalityError(wFast32) < 1e-5);
    }

    [Fact]
    public void Fast_path_matches_the_reference_at_the_DeiT_Ti_shape_3024_by_192()
    {
        // float64 keeps the comparison about the algebra. The n x n references' backward passes cost minutes at this
        // size (Householder ~80 s, matrix_exp more), so W is compared with the Householder and Cayley references and
        // the gradient of every map is checked by a central difference along a random direction.
        using var scope = NewDisposeScope();
        var x = RandomParameter(3024, 192, 0.05, ScalarType.Float64, 23);
        // Its own generator: the global one's state depends on which tests ran before.
        var upstream = randn(new long[] { 3024, 192 }, dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator(31));
        using (no_grad())
        {
            foreach (var map in new[] { OrthogonalMap.Householder, OrthogonalMap.Cayley })
            {
                Parity.Close(OrthogonalMaps.Fast(x, map, HouseholderDiagonal.Sign),
                    OrthogonalMaps.Reference(x, map, HouseholderDiagonal.Sign), 1e-10, $"{map} W");
            }
        }
        var direction = RandomParameter(3024, 192, 1.0, ScalarType.Float64, 29);
        direction.diagonal().zero_();
        foreach (var map in new[] { OrthogonalMap.MatrixExp, OrthogonalMap.Cayley, OrthogonalMap.Householder })
        {
            var (_, grad) = WeightAndGradient(x, upstream, map, fast: true);
            const double h = 1e-5;
            double Loss(Tensor p)
            {
                using var s = NewDisposeScope();
                using var ng = no_grad();
                return (OrthogonalMaps.Fast(p, map, HouseholderDiagonal.Sign) * upstream).sum().item<double>();
            }
            // Fourth-order central difference: the direction has ~580k unit entries, so the second-order formula's
            // O(h^2) truncation error alone reached 2e-6 relative at this size.
            var numeric = (8 * (Loss(x + h * direction) - Loss(x - h * direction))
                - (Loss(x + 2 * h * direction) - Loss(x - 2 * h * direction))) / (12 * h);
            var analytic = (grad * direction).sum().item<double>();
            Assert.True(Math.Abs(numeric - analytic) <= 1e-6 * Math.Max(1.0, Math.Abs(analytic)),
                $"{map}: directional derivative {analytic:G10} vs central difference {numeric:G10}");
        }
    }

    [Fact]
    public void Initial_parameter_gives_finite_gradients_on_the_fast_path()
    {
        // -I makes the lower block B zero: a QR-based geodesic formula would divide by zero here.
        using var scope = NewDisposeScope();
        foreach (var map in new[] { OrthogonalMap.MatrixExp, OrthogonalMap.Cayley, OrthogonalMap.Householder })
        {
            var x = zeros(40, 8);
            x.diagonal().fill_(-1.0);
            var (w, g) = WeightAndGradient(x, randn(40, 8), map, fast: true);
            Assert.True(g.isfinite().all().item<bool>(), $"{map}: non-finite gradient");
            var expected = eye(40, 8) * (map == OrthogonalMap.Householder ? 1.0 : 1.0);
            Parity.Close(w, expected, 1e-6, $"{map}: map(-I) = I[:, :k]");
        }
    }

    [Fact]
    public void Auto_takes_the_fast_path_only_where_it_is_cheaper()
    {
        Assert.True(OrthogonalMaps.UsesFastPath(3024, 192, OrthogonalMap.MatrixExp, OrthogonalComputation.Auto));
        Assert.True(OrthogonalMaps.UsesFastPath(3024, 192, OrthogonalMap.Cayley, OrthogonalComputation.Auto));
        Assert.True(OrthogonalMaps.UsesFastPath(256, 256, OrthogonalMap.Householder, OrthogonalComputation.Auto));
        Assert.False(OrthogonalMaps.UsesFastPath(256, 256, OrthogonalMap.MatrixExp, OrthogonalComputation.Auto));
        Assert.False(OrthogonalMaps.UsesFastPath(3024, 192, OrthogonalMap.Cayley, OrthogonalComputation.Reference));
    }
}
