using TorchSharp;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>
/// timm's plain <c>VisionTransformer</c> as used by DeiT (<c>deit_tiny_patch16_224</c> …): patch embedding, class
/// token, head on the class token (<c>global_pool='token'</c>). Keys equal timm's: <c>patch_embed.proj.*</c>,
/// <c>cls_token</c>, <c>pos_embed</c>, <c>blocks.*</c>, <c>norm.*</c>, <c>head.*</c>.
/// </summary>
public sealed class VisionTransformer : VisionTransformerBase
{
    private readonly PatchEmbed patch_embed;

    /// <summary>Builds the model from <paramref name="config"/>.</summary>
    public VisionTransformer(VisionTransformerConfig config)
        : base(nameof(VisionTransformer), config, NumPatchesOf(config), numPrefixTokens: 1)
    {
        patch_embed = new PatchEmbed(config.ImgSize, config.PatchSize, config.InChans, config.EmbedDim);
        register_module("patch_embed", patch_embed);
    }

    internal static int NumPatchesOf(VisionTransformerConfig config)
    {
        if (config.ImgSize % config.PatchSize != 0)
        {
            throw new ArgumentException($"Image size {config.ImgSize} is not divisible by patch size {config.PatchSize}.", nameof(config));
        }
        var grid = config.ImgSize / config.PatchSize;
        return grid * grid;
    }

    /// <inheritdoc />
    protected override Tensor EmbedTokens(Tensor x)
    {
        using var scope = NewDisposeScope();
        var patches = patch_embed.call(x);
        return torch.cat([ClsTokens(patches.shape[0]), patches], 1).MoveToOuterDisposeScope();
    }

    /// <summary>Class token → head; with <paramref name="preLogits"/> the normed class token [B, D].</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var cls = features.select(1, 0);
        return (preLogits ? cls : Head.call(cls)).MoveToOuterDisposeScope();
    }
}
