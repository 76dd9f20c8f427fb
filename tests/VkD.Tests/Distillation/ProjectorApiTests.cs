using TorchSharp;
using VkD.Distillation.Projectors;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

/// <summary>Construction, factory and input checks of the projectors.</summary>
public class ProjectorApiTests
{
    [Fact]
    public void Student_wider_than_teacher_is_rejected_with_both_widths()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OrthogonalProjector(384, 192));
        Assert.Contains("d_s = 384 > d_t = 192", ex.Message);
    }

    [Fact]
    public void Wrong_input_width_names_the_shape()
    {
        using var proj = new OrthogonalProjector(4, 10);
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => proj.forward(randn(5, 7)));
        Assert.Contains("[5, 7]", ex.Message);
        Assert.Contains("[..., 4]", ex.Message);
        var p = new OrthogonalParametrization(10, 4, OrthogonalMap.Householder, OrthogonalComputation.Auto, HouseholderDiagonal.Sign);
        var bad = Assert.Throws<ArgumentException>(() => p.Forward(randn(4, 10)));
        Assert.Contains("[10, 4]", bad.Message);
        Assert.Contains("[4, 10]", bad.Message);
    }

    [Theory]
    [InlineData("auto", 192, 3024, OrthogonalMap.Householder)]
    [InlineData("auto", 256, 256, OrthogonalMap.MatrixExp)]
    [InlineData("householder", 8, 8, OrthogonalMap.Householder)]
    [InlineData("matrix_exp", 8, 24, OrthogonalMap.MatrixExp)]
    [InlineData("cayley", 8, 24, OrthogonalMap.Cayley)]
    public void Factory_chooses_the_map_like_PyTorch(string name, int ds, int dt, OrthogonalMap expected)
    {
        using var proj = (OrthogonalProjector)ProjectorFactory.Create(name, ds, dt);
        Assert.Equal(expected, proj.Map);
        Assert.Equal(ds, proj.InFeatures);
        Assert.Equal(dt, proj.OutFeatures);
        Assert.True(proj.ExemptFromWeightDecay);
        Assert.Equal(new long[] { dt, dt }, proj.Parametrization.Base.shape);
    }

    [Fact]
    public void Scaled_is_a_householder_W_with_a_per_channel_scale_and_bias_after_it()
    {
        torch.manual_seed(5);
        using var proj = (ScaledOrthogonalProjector)ProjectorFactory.Create("scaled", 4, 6);
        Assert.Equal(OrthogonalMap.Householder, proj.Orthogonal.Map);
        Assert.True(proj.ExemptFromWeightDecay);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            proj.Scale.copy_(tensor(new float[] { 1, 2, 3, 4, 5, 6 }));
            proj.Bias!.copy_(tensor(new float[] { 0, 1, 0, -1, 0, 1 }));
        }
        var x = randn(3, 4);
        var w = proj.ComputeWeight();
        Assert.True(w.t().matmul(w).allclose(eye(4), atol: 1e-5));
        Assert.True(proj.forward(x).allclose((proj.Scale * x.matmul(w.t())) + proj.Bias, atol: 1e-5));
        Assert.Throws<ArgumentException>(() => ProjectorFactory.Create("scaled", 8, 4));
    }

    [Fact]
    public void Linear_baseline_and_unknown_names()
    {
        using var linear = ProjectorFactory.Create("linear", 6, 4);
        Assert.IsType<LinearProjector>(linear);
        Assert.False(linear.ExemptFromWeightDecay);
        Assert.Equal(new[] { "weight" }, linear.state_dict().Keys);
        using var scope = NewDisposeScope();
        Assert.Equal(new long[] { 3, 5, 4 }, linear.forward(randn(3, 5, 6)).shape);
        var ex = Assert.Throws<ArgumentException>(() => ProjectorFactory.Create("svd", 6, 12));
        Assert.Contains("householder", ex.Message);
    }

    [Fact]
    public void Projection_of_batched_rows_keeps_leading_dimensions_and_both_product_orders_agree()
    {
        torch.manual_seed(3);
        using var proj = new OrthogonalProjector(8, 40);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            proj.Original.add_(0.1 * randn(40, 8));
        }
        var few = randn(2, 3, 8);    // 6 rows < d_s: base applied to the activations
        var many = randn(4, 5, 8);   // 20 rows >= d_s: W materialised
        var w = proj.ComputeWeight();
        Parity.Close(proj.forward(few), few.matmul(w.t()), 1e-5, "rows < d_s");
        Parity.Close(proj.forward(many), many.matmul(w.t()), 1e-5, "rows >= d_s");
        Assert.Equal(new long[] { 2, 3, 40 }, proj.forward(few).shape);
    }

    [Theory]
    [InlineData("orthogonal")]
    [InlineData("scaled")]
    [InlineData("linear")]
    public void A_projector_moved_to_float64_computes_in_float64_with_its_own_parameters(string kind)
    {
        using var proj = Create(kind);
        using var scope = NewDisposeScope();
        var x = randn(3, 4, dtype: ScalarType.Float64);
        using (no_grad())
        {
            foreach (var p in proj.parameters())
            {
                p.add_(0.01); // the scale and bias away from ones/zeros, so a stale copy would show
            }
        }
        var expected = proj.forward(x.to_type(ScalarType.Float32)).to_type(ScalarType.Float64);
        proj.to(ScalarType.Float64);
        Assert.All(proj.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        Assert.All(proj.buffers(), b => Assert.Equal(ScalarType.Float64, b.dtype));
        var y = proj.forward(x);
        Assert.Equal(ScalarType.Float64, y.dtype);
        Assert.True(y.allclose(expected, rtol: 1e-4, atol: 1e-5));
        y.sum().backward();
        // The gradient reaches the parameters the module reports (an optimizer built after .to() holds these).
        Assert.All(proj.parameters(), p => Assert.NotNull(p.grad));
    }

    [Theory]
    [InlineData("orthogonal")]
    [InlineData("scaled")]
    public void A_projector_built_under_a_float64_default_is_float64_throughout(string kind)
    {
        var previous = get_default_dtype();
        set_default_dtype(ScalarType.Float64);
        try
        {
            using var proj = Create(kind);
            Assert.All(proj.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
            Assert.All(proj.buffers(), b => Assert.Equal(ScalarType.Float64, b.dtype));
            using var scope = NewDisposeScope();
            Assert.Equal(ScalarType.Float64, proj.forward(randn(2, 4)).dtype);
        }
        finally
        {
            set_default_dtype(previous);
        }
    }

    private static ProjectorModule Create(string kind) => kind switch
    {
        "orthogonal" => new OrthogonalProjector(4, 6),
        "scaled" => new ScaledOrthogonalProjector(4, 6),
        _ => new LinearProjector(4, 6),
    };
}
