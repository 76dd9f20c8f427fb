using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// A module holding convolutions each directly followed by an eval-mode BatchNorm that it can fold into the
/// convolution (<see cref="BatchNormFolding.Fold"/> drives it for a whole model).
/// </summary>
public interface IFoldableBatchNorm
{
    /// <summary>True once <see cref="FoldBatchNorm"/> ran: the forward skips the BatchNorms.</summary>
    bool BatchNormFolded { get; }

    /// <summary>Folds this module's own conv → BatchNorm pairs (not its children's) and returns how many; 0 if they
    /// were folded already.</summary>
    /// <exception cref="InvalidOperationException">The module is in training mode.</exception>
    int FoldBatchNorm();
}

/// <summary>
/// Folds eval-mode BatchNorms into the convolutions they follow, so a frozen CNN teacher runs one pass per conv instead
/// of two: per output channel, <c>w' = w·γ/√(var+ε)</c> and <c>b' = β + (b − mean)·γ/√(var+ε)</c>. The folded
/// convolutions gain a <c>bias</c> parameter (a <c>*.bias</c> state-dict key the unfolded model does not have), so a
/// folded model is for inference only and is never what a checkpoint saves.
/// </summary>
public static class BatchNormFolding
{
    /// <summary>Folds every conv → BatchNorm pair of <paramref name="model"/> and its submodules; returns how many
    /// pairs were folded (0 for a model without any, e.g. a ViT).</summary>
    /// <exception cref="InvalidOperationException">The model, or one of its modules, is in training mode: folding
    /// freezes the running statistics, which training would go on updating.</exception>
    public static int Fold(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var all = Modules(model).ToList();
        if (all.Any(m => m.training))
        {
            throw new InvalidOperationException($"BatchNorm folding needs a model in eval mode; this {model.GetName()} is in training mode (call eval() first: folding freezes the running statistics).");
        }
        using var noGrad = no_grad();
        return all.OfType<IFoldableBatchNorm>().Sum(f => f.FoldBatchNorm());
    }

    /// <summary>True if <paramref name="model"/> has conv → BatchNorm pairs (folded or not).</summary>
    public static bool CanFold(nn.Module model) => Modules(model).OfType<IFoldableBatchNorm>().Any();

    /// <summary>True if some conv → BatchNorm pair of <paramref name="model"/> has been folded.</summary>
    public static bool IsFolded(nn.Module model) => Modules(model).OfType<IFoldableBatchNorm>().Any(f => f.BatchNormFolded);

    // modules() leaves out the root, and the ResNets hold their stem pair on the root itself.
    private static IEnumerable<nn.Module> Modules(nn.Module model) => model.modules().Prepend(model);

    /// <summary>Folds <paramref name="bn"/> into <paramref name="conv"/> in place; the caller then skips
    /// <paramref name="bn"/> in its forward.</summary>
    internal static void FoldInto(Conv2d conv, BatchNorm2d bn)
    {
        if (conv.training || bn.training)
        {
            throw new InvalidOperationException("BatchNorm folding needs the convolution and its BatchNorm in eval mode (call eval() first).");
        }
        if (bn.running_mean is null || bn.running_var is null)
        {
            throw new InvalidOperationException("A BatchNorm without running statistics normalises by the batch's own and cannot be folded.");
        }
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var w = conv.weight;
        // In float64, so the fold itself adds no rounding beyond the final cast to the conv's dtype.
        var inv = (bn.running_var.to_type(ScalarType.Float64) + bn.eps).rsqrt();
        var scale = bn.weight is null ? inv : inv * bn.weight.to_type(ScalarType.Float64);
        var shift = bn.bias is null ? zeros_like(scale) : bn.bias.to_type(ScalarType.Float64);
        var mean = bn.running_mean.to_type(ScalarType.Float64);
        var oldBias = conv.bias is null ? zeros_like(mean) : conv.bias.to_type(ScalarType.Float64);
        var folded = w.to_type(ScalarType.Float64) * scale.view(-1, 1, 1, 1);
        w.copy_(folded.to_type(w.dtype));
        var bias = (shift + (oldBias - mean) * scale).to_type(w.dtype);
        if (conv.bias is null)
        {
            // Conv2d.bias's setter registers the new parameter under "bias", as a Conv2d built with bias: true has it.
            conv.bias = nn.Parameter(bias, requires_grad: false);
        }
        else
        {
            conv.bias.copy_(bias);
        }
    }

    /// <summary>The conv → BatchNorm forward of a pair that may have been folded.</summary>
    internal static Tensor ConvBn(Conv2d conv, BatchNorm2d bn, bool folded, Tensor x)
    {
        if (!folded)
        {
            return bn.call(conv.call(x));
        }
        if (conv.training)
        {
            // The folded conv has the statistics baked in; training it would silently drop the BatchNorm.
            throw new InvalidOperationException("This model's BatchNorms were folded into its convolutions (an inference-only teacher); it cannot run in training mode.");
        }
        return conv.call(x);
    }
}
