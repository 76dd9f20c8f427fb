using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>
/// timm's <c>VisionTransformerDistilled</c> (<c>deit_*_distilled_patch16_224</c>): a patch embedding and a
/// <b>learned</b> distillation token. Keys: timm's ViT keys plus <c>dist_token</c> and <c>head_dist.*</c>.
/// </summary>
public sealed class DistilledVisionTransformer : TwoHeadVisionTransformer
{
    private readonly PatchEmbed patch_embed;
    private readonly Parameter dist_token;

    /// <summary>Builds the model from <paramref name="config"/>.</summary>
    public DistilledVisionTransformer(VisionTransformerConfig config)
        : base(nameof(DistilledVisionTransformer), config, VisionTransformer.NumPatchesOf(config))
    {
        dist_token = new Parameter(torch.zeros(1, 1, config.EmbedDim));
        patch_embed = new PatchEmbed(config.ImgSize, config.PatchSize, config.InChans, config.EmbedDim);
        register_parameter("dist_token", dist_token);
        register_module("patch_embed", patch_embed);
        WeightInit.TruncNormal(dist_token, 0.02);
    }

    /// <inheritdoc />
    protected override Tensor EmbedTokens(Tensor x)
    {
        using var scope = NewDisposeScope();
        var patches = patch_embed.call(x);
        var b = patches.shape[0];
        return torch.cat([ClsTokens(b), dist_token.expand(b, -1, -1), patches], 1).MoveToOuterDisposeScope();
    }
}
