using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Distillation.Projectors;

/// <summary>
/// ViDT's <c>OrthogonalLinear</c> (VkD <c>vidt/main.py</c>): y = s * (x W^T) + b with an orthogonal W, a learnable
/// scale <c>weight</c> (ones, [d_t]) and bias <c>bias</c> (zeros, [d_t]). State-dict keys:
/// <c>projector.parametrizations.weight.original</c>, <c>projector.parametrizations.weight.0.base</c>, <c>weight</c>,
/// <c>bias</c>.
/// </summary>
public sealed class ScaledOrthogonalProjector : ProjectorModule
{
    private readonly OrthogonalProjector _projector;
    private readonly Parameter _scale;
    private readonly Parameter? _bias;

    /// <summary>Creates the projector; <paramref name="bias"/> false drops the bias as the reference allows.</summary>
    public ScaledOrthogonalProjector(int inFeatures, int outFeatures, bool bias = true, OrthogonalProjectorOptions? options = null)
        : base("OrthogonalLinear", inFeatures, outFeatures)
    {
        _projector = new OrthogonalProjector(inFeatures, outFeatures, options);
        register_module("projector", _projector);
        _scale = new Parameter(ones(outFeatures));
        register_parameter("weight", _scale);
        if (bias)
        {
            _bias = new Parameter(zeros(outFeatures));
            register_parameter("bias", _bias);
        }
    }

    /// <summary>The orthogonal part.</summary>
    public OrthogonalProjector Orthogonal => _projector;

    /// <summary>The per-channel scale s (<c>weight</c>).</summary>
    public Parameter Scale => _scale;

    /// <summary>The bias b, or null.</summary>
    public Parameter? Bias => _bias;

    /// <inheritdoc />
    public override bool ExemptFromWeightDecay => _projector.ExemptFromWeightDecay;

    /// <summary>The orthogonal W (the scale and bias are applied after it).</summary>
    public override Tensor ComputeWeight() => _projector.ComputeWeight();

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = _scale * _projector.forward(x);
        if (_bias is not null)
        {
            y = y + _bias;
        }
        return y.MoveToOuterDisposeScope();
    }
}
