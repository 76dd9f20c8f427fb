using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Distillation.Projectors;

/// <summary>Options of the orthogonal projectors.</summary>
/// <param name="Map">The orthogonal map; null chooses PyTorch's default by shape (square: matrix_exp, else householder).</param>
/// <param name="Computation">Fast low-rank path, PyTorch's n x n reference path, or automatic choice.</param>
/// <param name="ReleasedCompatibility">
/// Reproduces the released VkD classification code exactly: Householder reads the diagonal of <c>original</c> through
/// PyTorch's int cast and the parameters stay in weight decay, so W collapses to 0 after the first AdamW step with
/// weight decay. Off by default (sign diagonal, projector exempt from weight decay).
/// </param>
/// <param name="Generator">Random generator for the kaiming-uniform initial weight and the normal completion of the
/// base; null uses the global generator (seeded by <c>torch.manual_seed</c>), as PyTorch does.</param>
public sealed record OrthogonalProjectorOptions(
    OrthogonalMap? Map = null,
    OrthogonalComputation Computation = OrthogonalComputation.Auto,
    bool ReleasedCompatibility = false,
    Generator? Generator = null);

/// <summary>
/// <c>torch.nn.utils.parametrizations.orthogonal(nn.Linear(d_s, d_t, bias=False))</c>: y = x W^T with W [d_t, d_s]
/// having orthonormal columns. Same initialisation (kaiming-uniform weight, then <c>right_inverse</c>), same state-dict
/// keys (<c>parametrizations.weight.original</c>, <c>parametrizations.weight.0.base</c>) and the same W for a given
/// state, so states move between PyTorch and TorchSharp unchanged.
/// </summary>
public sealed class OrthogonalProjector : ProjectorModule
{
    private readonly ParametrizationContainer _parametrizations;

    /// <summary>Creates a projector from d_s = <paramref name="inFeatures"/> to d_t = <paramref name="outFeatures"/>
    /// (d_s &lt;= d_t).</summary>
    public OrthogonalProjector(int inFeatures, int outFeatures, OrthogonalProjectorOptions? options = null)
        : base("OrthogonalProjector", inFeatures, outFeatures)
    {
        if (inFeatures > outFeatures)
        {
            throw new ArgumentException(
                $"An orthogonal projector needs d_s <= d_t (orthonormal columns of W [d_t, d_s]); got d_s = {inFeatures} " +
                $"> d_t = {outFeatures}. Project the teacher down or use the 'linear' projector instead.", nameof(inFeatures));
        }
        options ??= new OrthogonalProjectorOptions();
        ReleasedCompatibility = options.ReleasedCompatibility;
        Map = options.Map ?? OrthogonalMapNames.DefaultFor(outFeatures, inFeatures);
        var diagonal = ReleasedCompatibility ? HouseholderDiagonal.IntCast : HouseholderDiagonal.Sign;
        var parametrization = new OrthogonalParametrization(outFeatures, inFeatures, Map, options.Computation, diagonal);

        using var scope = NewDisposeScope();
        // nn.Linear's default init: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        var bound = 1.0 / Math.Sqrt(inFeatures);
        var initial = empty(outFeatures, inFeatures).uniform_(-bound, bound, options.Generator);
        var original = parametrization.RightInverse(initial, options.Generator);
        _parametrizations = new ParametrizationContainer(new OrthogonalWeight(parametrization, original));
        register_module("parametrizations", _parametrizations);
    }

    /// <summary>The orthogonal map in use.</summary>
    public OrthogonalMap Map { get; }

    /// <summary>True in released-code compatibility mode (int-cast diagonal, parameters in weight decay).</summary>
    public bool ReleasedCompatibility { get; }

    /// <summary>Fast or reference formulation (switchable at any time; both give the same W).</summary>
    public OrthogonalComputation Computation
    {
        get => Parametrization.Computation;
        set => Parametrization.Computation = value;
    }

    /// <summary>The trainable parameter <c>parametrizations.weight.original</c> [d_t, d_s].</summary>
    public Parameter Original => _parametrizations.Weight.Original;

    /// <summary>The map and its fixed buffer <c>parametrizations.weight.0.base</c> [d_t, d_t].</summary>
    public OrthogonalParametrization Parametrization => _parametrizations.Weight.Parametrization;

    /// <inheritdoc />
    public override bool ExemptFromWeightDecay => !ReleasedCompatibility;

    /// <inheritdoc />
    public override Tensor ComputeWeight() => _parametrizations.Weight.Compute();

    /// <summary>y = x W^T for x [..., d_s]. With fewer rows than d_s the base product is applied to the activations,
    /// <c>(x C^T) base^T</c>, instead of materialising <c>W = base C</c>: the same numbers at rows·d_t² instead of
    /// d_t²·d_s multiply-adds.</summary>
    public override Tensor forward(Tensor x)
    {
        CheckInput(x);
        using var scope = NewDisposeScope();
        var rows = x.numel() / InFeatures;
        var flat = x.reshape(rows, InFeatures);
        Tensor y;
        if (rows < InFeatures)
        {
            var core = Parametrization.Core(Original);
            y = flat.matmul(core.t()).matmul(Parametrization.Base.t());
        }
        else
        {
            y = flat.matmul(ComputeWeight().t());
        }
        var shape = x.shape.ToArray();
        shape[^1] = OutFeatures;
        return y.reshape(shape).MoveToOuterDisposeScope();
    }
}
