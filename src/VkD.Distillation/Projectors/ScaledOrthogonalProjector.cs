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

    /// <summary>Creates the projector; <paramref name="bias"/> false drops the bias as the reference allows.</summary>
    public ScaledOrthogonalProjector(int inFeatures, int outFeatures, bool bias = true, OrthogonalProjectorOptions? options = null)
        : base("OrthogonalLinear", inFeatures, outFeatures)
    {
        _projector = new OrthogonalProjector(inFeatures, outFeatures, options);
        register_module("projector", _projector);
        // The scale and bias are read back by name, never cached in fields: Module.to(dtype|device) replaces
        // registered parameters, and a cached one would be the disposed original.
        register_parameter("weight", new Parameter(ones(outFeatures)));
        if (bias)
        {
            register_parameter("bias", new Parameter(zeros(outFeatures)));
        }
    }

    /// <summary>The orthogonal part.</summary>
    public OrthogonalProjector Orthogonal => _projector;

    /// <summary>The per-channel scale s (<c>weight</c>).</summary>
    public Parameter Scale => get_parameter("weight")!;

    /// <summary>The bias b, or null.</summary>
    public Parameter? Bias => get_parameter("bias");

    /// <inheritdoc />
    public override bool ExemptFromWeightDecay => _projector.ExemptFromWeightDecay;

    /// <summary>The orthogonal W (the scale and bias are applied after it).</summary>
    public override Tensor ComputeWeight() => _projector.ComputeWeight();

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = Scale * _projector.forward(x);
        if (Bias is { } bias)
        {
            y = y + bias;
        }
        return y.MoveToOuterDisposeScope();
    }
}
