using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>timm's transformer MLP: <c>fc1 → GELU → fc2</c> (keys <c>fc1.*</c>, <c>fc2.*</c>).</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly GELU act;
    private readonly Linear fc2;

    /// <summary>Creates the MLP with the given widths.</summary>
    public Mlp(long inFeatures, long hiddenFeatures) : base(nameof(Mlp))
    {
        fc1 = nn.Linear(inFeatures, hiddenFeatures);
        act = nn.GELU();
        fc2 = nn.Linear(hiddenFeatures, inFeatures);
        register_module("fc1", fc1);
        register_module("act", act);
        register_module("fc2", fc2);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc2.call(act.call(fc1.call(x))).MoveToOuterDisposeScope();
    }
}
