using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>CRD's embedding head (RepDistiller <c>Embed</c>): flatten, <c>linear</c> to the contrast space, L2-normalise
/// (no eps, as the reference). State-dict keys <c>linear.weight</c>, <c>linear.bias</c>.</summary>
public sealed class ContrastEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Linear _linear;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the head from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>.</summary>
    public ContrastEmbedding(long inFeatures, long outFeatures) : base(nameof(ContrastEmbedding))
    {
        _linear = nn.Linear(inFeatures, outFeatures);
        register_module("linear", _linear);
        InFeatures = inFeatures;
    }

    /// <summary>Width of the flattened input.</summary>
    public long InFeatures { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var x = _linear.call(input.reshape(input.shape[0], -1));
        return (x / x.pow(2).sum(1, keepdim: true).pow(0.5)).MoveToOuterDisposeScope();
    }
}
