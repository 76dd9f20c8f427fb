using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>The normed token sequence of a two-head DeiT split into its parts.</summary>
/// <param name="Cls">Class token [B, D].</param>
/// <param name="Dist">Distillation token [B, D].</param>
/// <param name="Patches">Patch tokens [B, N, D].</param>
public sealed record DistilledTokens(Tensor Cls, Tensor Dist, Tensor Patches);

/// <summary>
/// A DeiT with a class token and a distillation token, each with its own head (<c>head</c>, <c>head_dist</c>).
/// forward = (head(cls) + head_dist(dist)) / 2 in both modes (the reference returns both heads in training; training
/// uses <see cref="ForwardForDistillation"/> instead). <see cref="ForwardForDistillation"/> returns head(cls),
/// head_dist(dist) and the mean patch token (after the final norm) as pooled features, as VkD's engine uses it.
/// </summary>
public abstract class TwoHeadVisionTransformer : VisionTransformerBase
{
    private readonly nn.Module<Tensor, Tensor> head_dist;

    /// <summary>Builds the trunk with two prefix tokens and registers <c>head_dist</c>.</summary>
    protected TwoHeadVisionTransformer(string name, VisionTransformerConfig config, int numPatches)
        : base(name, config, numPatches, numPrefixTokens: 2)
    {
        head_dist = config.NumClasses > 0 ? nn.Linear(config.EmbedDim, config.NumClasses) : nn.Identity();
        register_module("head_dist", head_dist);
        if (head_dist is Linear linear)
        {
            WeightInit.VitLinear(linear);
        }
    }

    /// <summary>Splits the output of <see cref="ClassifierModel.ForwardFeatures"/> into cls, dist and patch tokens
    /// (the reference's <c>forward_features</c> tuple). The parts are views of <paramref name="features"/>.</summary>
    public static DistilledTokens SplitTokens(Tensor features) =>
        new(features.select(1, 0), features.select(1, 1), features.narrow(1, 2, features.shape[1] - 2));

    /// <summary>Average of the two heads; with <paramref name="preLogits"/> the average of the two tokens (timm).</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var cls = features.select(1, 0);
        var dist = features.select(1, 1);
        var result = preLogits ? (cls + dist) / 2 : (Head.call(cls) + head_dist.call(dist)) / 2;
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>head(cls), head_dist(dist) and the mean patch token [B, D].</summary>
    public override ClassifierOutputs ForwardForDistillation(Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = ForwardFeatures(x);
        var logits = Head.call(features.select(1, 0));
        var distLogits = head_dist.call(features.select(1, 1));
        var pooled = features.narrow(1, 2, features.shape[1] - 2).mean([1L]);
        return new ClassifierOutputs(logits.MoveToOuterDisposeScope(), distLogits.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }
}
