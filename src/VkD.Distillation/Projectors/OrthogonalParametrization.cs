using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Distillation.Projectors;

/// <summary>
/// PyTorch's <c>_Orthogonal</c> with <c>use_trivialization=True</c>: the module registered as
/// <c>parametrizations.weight.0</c>. It owns the fixed buffer <c>base</c> (n x n, n the larger side of the weight) and
/// maps the trainable <c>original</c> to <c>base @ map(original)</c>, transposed back for wide weights.
/// </summary>
public sealed class OrthogonalParametrization : nn.Module
{
    /// <summary>Every component is registered explicitly under its PyTorch name; TorchSharp's reflection-based
    /// registration would add the C# field names as extra state-dict keys.</summary>
    protected override void RegisterComponents()
    {
    }


    /// <summary>Creates the parametrization of a <paramref name="rows"/> x <paramref name="columns"/> weight; the base
    /// is zero until <see cref="RightInverse"/> or a state-dict load fills it.</summary>
    public OrthogonalParametrization(long rows, long columns, OrthogonalMap map, OrthogonalComputation computation,
        HouseholderDiagonal diagonal, ScalarType? dtype = null) : base("_Orthogonal")
    {
        Rows = rows;
        Columns = columns;
        Map = map;
        Computation = computation;
        Diagonal = diagonal;
        var n = Math.Max(rows, columns);
        // torch.get_default_dtype(), as PyTorch builds it, unless the caller names one.
        register_buffer("base", zeros(n, n, dtype ?? get_default_dtype()));
    }

    /// <summary>Rows of the parametrized weight.</summary>
    public long Rows { get; }

    /// <summary>Columns of the parametrized weight.</summary>
    public long Columns { get; }

    /// <summary>The orthogonal map.</summary>
    public OrthogonalMap Map { get; }

    /// <summary>Fast or reference formulation.</summary>
    public OrthogonalComputation Computation { get; set; }

    /// <summary>How the Householder map reads the diagonal of <c>original</c>.</summary>
    public HouseholderDiagonal Diagonal { get; }

    /// <summary>The fixed orthogonal base (n x n).</summary>
    public Tensor Base => get_buffer("base")!;

    /// <summary>True when the weight is wide (rows &lt; columns) and is handled transposed, as PyTorch does.</summary>
    public bool Transposed => Rows < Columns;

    /// <summary>The weight <c>base @ map(original)</c> with the shape of <paramref name="original"/>.</summary>
    public Tensor Forward(Tensor original)
    {
        CheckShape(original, nameof(original));
        using var scope = NewDisposeScope();
        var q = Base.matmul(Core(original));
        return (Transposed ? q.t() : q).MoveToOuterDisposeScope();
    }

    /// <summary><c>map(original)</c> in the tall orientation (n x k), without the base; <c>base @ Core</c> is the weight
    /// (transposed if wide). Lets callers choose the cheaper order of the base product.</summary>
    public Tensor Core(Tensor original)
    {
        CheckShape(original, nameof(original));
        var x = Transposed ? original.t() : original;
        return OrthogonalMaps.Evaluate(x, Map, Computation, Diagonal);
    }

    /// <summary>
    /// PyTorch's <c>right_inverse</c> with trivialization: sets <c>base</c> from <paramref name="weight"/> (square: the
    /// weight itself if orthogonal, else the sign-fixed QR factor; otherwise the sign-fixed QR factor of the weight
    /// completed with standard-normal columns drawn from <paramref name="generator"/>) and returns the initial
    /// <c>original</c>, which is -I (minus ones on the diagonal).
    /// </summary>
    public Tensor RightInverse(Tensor weight, Generator? generator = null)
    {
        CheckShape(weight, nameof(weight));
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            var q = Transposed ? weight.t() : weight;
            var n = q.shape[0];
            var k = q.shape[1];
            Tensor b;
            if (n == k)
            {
                b = OrthogonalMaps.IsOrthogonal(q) ? q.clone() : OrthogonalMaps.MakeOrthogonal(q);
            }
            else
            {
                var completion = randn(new[] { n, n - k }, dtype: q.dtype, device: q.device, generator: generator);
                b = OrthogonalMaps.MakeOrthogonal(cat(new[] { q, completion }, 1));
            }
            Base.copy_(b);
            var negId = zeros_like(weight);
            negId.diagonal().fill_(-1.0);
            return negId.MoveToOuterDisposeScope();
        }
    }

    private void CheckShape(Tensor t, string name)
    {
        if (t.ndim != 2 || t.shape[0] != Rows || t.shape[1] != Columns)
        {
            throw new ArgumentException(
                $"Expected a matrix of shape [{Rows}, {Columns}], got [{string.Join(", ", t.shape)}].", name);
        }
    }
}

/// <summary>PyTorch's <c>ParametrizationList</c> for one orthogonal weight: the module <c>parametrizations.weight</c>
/// with the parameter <c>original</c> and the parametrization as submodule <c>0</c>.</summary>
public sealed class OrthogonalWeight : nn.Module
{
    /// <summary>Every component is registered explicitly under its PyTorch name; TorchSharp's reflection-based
    /// registration would add the C# field names as extra state-dict keys.</summary>
    protected override void RegisterComponents()
    {
    }


    /// <summary>Wraps <paramref name="parametrization"/> and the initial value of <c>original</c>.</summary>
    public OrthogonalWeight(OrthogonalParametrization parametrization, Tensor original) : base("ParametrizationList")
    {
        Parametrization = parametrization;
        // Detached from any dispose scope of the caller: the parameter lives as long as the module.
        register_parameter("original", new Parameter(original.detach().clone().DetachFromDisposeScope()));
        register_module("0", parametrization);
    }

    /// <summary>The trainable unconstrained parameter (shape of the weight).</summary>
    public Parameter Original => get_parameter("original")!;

    /// <summary>The map and its fixed base.</summary>
    public OrthogonalParametrization Parametrization { get; }

    /// <summary>The orthogonal weight.</summary>
    public Tensor Compute() => Parametrization.Forward(Original);
}

/// <summary>The <c>parametrizations</c> container (a ModuleDict in PyTorch) holding <c>weight</c>.</summary>
public sealed class ParametrizationContainer : nn.Module
{
    /// <summary>Every component is registered explicitly under its PyTorch name; TorchSharp's reflection-based
    /// registration would add the C# field names as extra state-dict keys.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Registers <paramref name="weight"/> under the name <c>weight</c>.</summary>
    public ParametrizationContainer(OrthogonalWeight weight) : base("ModuleDict")
    {
        Weight = weight;
        register_module("weight", weight);
    }

    /// <summary>The parametrized weight.</summary>
    public OrthogonalWeight Weight { get; }
}
