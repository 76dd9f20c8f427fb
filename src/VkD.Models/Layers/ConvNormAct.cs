using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// timm's <c>ConvNormAct</c>: bias-free convolution with "same"-style symmetric padding, BatchNorm, optional ReLU
/// (keys <c>conv.weight</c>, <c>bn.*</c>).
/// </summary>
public sealed class ConvNormAct : nn.Module<Tensor, Tensor>, IFoldableBatchNorm
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;
    private readonly bool _applyAct;
    private bool _folded;

    /// <summary>Creates the layer; padding is timm's <c>((stride - 1) + (kernel - 1)) / 2</c>.</summary>
    public ConvNormAct(long inChannels, long outChannels, int kernelSize, int stride = 1, long groups = 1, bool applyAct = true)
        : base(nameof(ConvNormAct))
    {
        var padding = ((stride - 1) + (kernelSize - 1)) / 2;
        conv = nn.Conv2d(inChannels, outChannels, kernel_size: kernelSize, stride: stride, padding: padding, groups: groups, bias: false);
        bn = nn.BatchNorm2d(outChannels);
        _applyAct = applyAct;
        register_module("conv", conv);
        register_module("bn", bn);
    }

    /// <summary>The convolution (for weight initialisation).</summary>
    public Conv2d Conv => conv;

    /// <summary>The BatchNorm (for zero-init of the last norm of a residual branch).</summary>
    public BatchNorm2d Bn => bn;

    /// <inheritdoc />
    public bool BatchNormFolded => _folded;

    /// <inheritdoc />
    public int FoldBatchNorm()
    {
        if (_folded)
        {
            return 0;
        }
        BatchNormFolding.FoldInto(conv, bn);
        _folded = true;
        return 1;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = BatchNormFolding.ConvBn(conv, bn, _folded, x);
        if (_applyAct)
        {
            y = nn.functional.relu(y);
        }
        return y.MoveToOuterDisposeScope();
    }
}
