using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>timm's transformer MLP: <c>fc1 → GELU → fc2</c> (keys <c>fc1.*</c>, <c>fc2.*</c>).</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear _fc1;
    private readonly GELU _act;
    private readonly Linear _fc2;

    /// <summary>Creates the MLP with the given widths.</summary>
    public Mlp(long inFeatures, long hiddenFeatures) : base(nameof(Mlp))
    {
        _fc1 = nn.Linear(inFeatures, hiddenFeatures);
        _act = nn.GELU();
        _fc2 = nn.Linear(hiddenFeatures, inFeatures);
        register_module("fc1", _fc1);
        register_module("act", _act);
        register_module("fc2", _fc2);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return _fc2.forward(_act.forward(_fc1.forward(x))).MoveToOuterDisposeScope();
    }
}
