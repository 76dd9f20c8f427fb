using TorchSharp;
using VkD.Distillation.Projectors;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

/// <summary>The projectors against <c>torch.nn.utils.parametrizations.orthogonal</c> of PyTorch 1.13
/// (tools/fixtures/make_core_fixtures.py).</summary>
public class ProjectorParityTests
{
    private const double Tolerance = 1e-5;

    public static TheoryData<string, string, OrthogonalComputation> MapsShapesPaths()
    {
        var data = new TheoryData<string, string, OrthogonalComputation>();
        foreach (var map in new[] { "matrix_exp", "cayley", "householder" })
        {
            foreach (var shape in new[] { "square", "tall" })
            {
                data.Add(map, shape, OrthogonalComputation.Fast);
                data.Add(map, shape, OrthogonalComputation.Reference);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(MapsShapesPaths))]
    public void Projector_loads_PyTorch_state_and_matches_weight_output_and_gradients(string map, string shape, OrthogonalComputation path)
    {
        using var f = Fixture.Load("core", $"projector_{map}_{shape}");
        var original = f["original"];
        var inFeatures = (int)original.shape[1];
        var outFeatures = (int)original.shape[0];
        using var proj = new OrthogonalProjector(inFeatures, outFeatures,
            new OrthogonalProjectorOptions(OrthogonalMapNames.Parse(map), path));

        var state = Parity.StateWithPrefix(f, "state.");
        Assert.Equal(state.Keys.OrderBy(k => k), proj.state_dict().Keys.OrderBy(k => k));
        proj.load_state_dict(state, strict: true);
        using (var w0 = proj.ComputeWeight())
        {
            Parity.Close(w0, f["weight_init"], Tolerance, "W after loading PyTorch's state");
        }

        using (no_grad())
        {
            proj.Original.copy_(original);
        }
        using var scope = NewDisposeScope();
        var x = f["x"].clone().requires_grad_(true);
        var y = proj.forward(x);
        (y * f["upstream"]).sum().backward();
        Parity.Close(proj.ComputeWeight(), f["weight"], Tolerance, "W");
        Parity.Close(y, f["y"], Tolerance, "y");
        Parity.Close(proj.Original.grad!, f["grad_original"], Tolerance, "d loss / d original");
        Parity.Close(x.grad!, f["grad_x"], Tolerance, "d loss / d x");
    }

    [Theory]
    [InlineData("matrix_exp")]
    [InlineData("cayley")]
    [InlineData("householder")]
    public void Wide_weights_are_parametrized_transposed_like_PyTorch(string map)
    {
        using var f = Fixture.Load("core", $"projector_{map}_wide");
        var original = f["original"];
        foreach (var path in new[] { OrthogonalComputation.Fast, OrthogonalComputation.Reference })
        {
            using var scope = NewDisposeScope();
            var parametrization = new OrthogonalParametrization(original.shape[0], original.shape[1],
                OrthogonalMapNames.Parse(map), path, HouseholderDiagonal.Sign);
            var weight = new OrthogonalWeight(parametrization, original);
            weight.load_state_dict(new Dictionary<string, Tensor>
            {
                ["original"] = f["state.parametrizations.weight.original"],
                ["0.base"] = f["state.parametrizations.weight.0.base"],
            }, strict: true);
            Parity.Close(weight.Compute(), f["weight_init"], Tolerance, $"{path}: initial wide W");
            using (no_grad())
            {
                weight.Original.copy_(original);
            }
            var x = f["x"].clone().requires_grad_(true);
            var y = nn.functional.linear(x, weight.Compute());
            (y * f["upstream"]).sum().backward();
            Parity.Close(y, f["y"], Tolerance, $"{path}: y");
            Parity.Close(weight.Original.grad!, f["grad_original"], Tolerance, $"{path}: d loss / d original");
            Parity.Close(x.grad!, f["grad_x"], Tolerance, $"{path}: d loss / d x");
            weight.Dispose();
        }
    }

    [Theory]
    [InlineData("matrix_exp", "square")]
    [InlineData("householder", "tall")]
    [InlineData("cayley", "tall")]
    public void Initialisation_from_a_seed_reproduces_PyTorch_when_the_generators_agree(string map, string shape)
    {
        using var f = Fixture.Load("core", $"projector_{map}_{shape}");
        var seed = f["seed"].item<long>();
        var original = f["original"];
        var inFeatures = (int)original.shape[1];
        var outFeatures = (int)original.shape[0];
        using var scope = NewDisposeScope();

        // TorchSharp 0.107 / libtorch 2.10 and PyTorch 1.13 share the CPU generator (mt19937) and its uniform/normal
        // sampling, so the same seed gives the same draws; this is asserted, not assumed.
        torch.manual_seed(seed);
        var uniform = empty(outFeatures, inFeatures).uniform_(-0.5, 0.5);
        var normal = randn(40);
        Parity.Close(uniform, f["rng_uniform"], 0, "uniform_ after manual_seed");
        Parity.Close(normal, f["rng_randn"], 1e-6, "randn after manual_seed");

        torch.manual_seed(seed);
        using var proj = new OrthogonalProjector(inFeatures, outFeatures,
            new OrthogonalProjectorOptions(OrthogonalMapNames.Parse(map)));
        Parity.Close(proj.Parametrization.Base, f["state.parametrizations.weight.0.base"], Tolerance, "base");
        Parity.Close(proj.Original, f["state.parametrizations.weight.original"], 0, "original = -I");
        Parity.Close(proj.ComputeWeight(), f["weight_init"], Tolerance, "W at initialisation");
    }

    [Fact]
    public void Vidt_orthogonal_linear_matches_PyTorch_with_scale_and_bias()
    {
        using var f = Fixture.Load("core", "vidt_orthogonal_linear");
        using var proj = new ScaledOrthogonalProjector(8, 8);
        var state = Parity.StateWithPrefix(f, "state.");
        Assert.Equal(state.Keys.OrderBy(k => k), proj.state_dict().Keys.OrderBy(k => k));
        proj.load_state_dict(state, strict: true);
        Assert.Equal(OrthogonalMap.MatrixExp, proj.Orthogonal.Map);
        using var scope = NewDisposeScope();
        var x = f["x"].clone().requires_grad_(true);
        var y = proj.forward(x);
        (y * f["upstream"]).sum().backward();
        Parity.Close(y, f["y"], Tolerance, "y");
        Parity.Close(x.grad!, f["grad_x"], Tolerance, "d/dx");
        Parity.Close(proj.Orthogonal.Original.grad!, f["grad_original"], Tolerance, "d/d original");
        Parity.Close(proj.Scale.grad!, f["grad_scale"], Tolerance, "d/d scale");
        Parity.Close(proj.Bias!.grad!, f["grad_bias"], Tolerance, "d/d bias");
    }
}
