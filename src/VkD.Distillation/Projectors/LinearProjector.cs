using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Distillation.Projectors;

/// <summary>The unconstrained baseline <c>nn.Linear(d_s, d_t, bias=False)</c>: y = x W^T, key <c>weight</c>, PyTorch's
/// default kaiming-uniform initialisation. Any widths are allowed.</summary>
public sealed class LinearProjector : ProjectorModule
{
    /// <summary>Creates the projector; <paramref name="generator"/> null uses the global generator.</summary>
    public LinearProjector(int inFeatures, int outFeatures, Generator? generator = null)
        : base("Linear", inFeatures, outFeatures)
    {
        var bound = 1.0 / Math.Sqrt(inFeatures);
        // Read back by name, never cached in a field: Module.to(dtype|device) replaces registered parameters.
        register_parameter("weight", new Parameter(empty(outFeatures, inFeatures).uniform_(-bound, bound, generator)));
    }

    /// <summary>The weight [d_t, d_s].</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>False: a plain linear layer takes weight decay like any other 2-D weight.</summary>
    public override bool ExemptFromWeightDecay => false;

    /// <inheritdoc />
    public override Tensor ComputeWeight() => Weight.alias();

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        CheckInput(x);
        return nn.functional.linear(x, Weight);
    }
}
