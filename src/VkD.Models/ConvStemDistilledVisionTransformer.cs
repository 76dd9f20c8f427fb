using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>
/// The VkD student (<c>DistilledVisionTransformer</c> of roymiles/VkD <c>models/deit.py</c>, registry names
/// <c>deit_ti_distilled</c> / <c>deit_s_distilled</c>): the patch embedding is replaced by a conv stem
/// (<c>conv_embed</c>), and the distillation token is <b>not learned</b>: it is the mean of the stem's patch tokens.
/// Tokens are [cls, dist, patches] with a <c>pos_embed</c> over all of them and two heads.
/// Keys: <c>cls_token</c>, <c>pos_embed</c>, <c>conv_embed.conv.{0,1,3,4,6,7}.*</c>, <c>conv_embed.proj.*</c>,
/// <c>blocks.*</c>, <c>norm.*</c>, <c>head.*</c>, <c>head_dist.*</c> (no <c>dist_token</c>, no <c>patch_embed</c>).
/// </summary>
public sealed class ConvStemDistilledVisionTransformer : TwoHeadVisionTransformer
{
    private readonly ConvStem conv_embed;

    /// <summary>Builds the model; <see cref="VisionTransformerConfig.PatchSize"/> is ignored in favour of the stem's
    /// reduction.</summary>
    public ConvStemDistilledVisionTransformer(VisionTransformerConfig config, ConvStemConfig stem)
        : base(nameof(ConvStemDistilledVisionTransformer), config, NumPatchesOf(config, stem))
    {
        Stem = stem;
        conv_embed = new ConvStem(config.InChans, config.EmbedDim, stem);
        register_module("conv_embed", conv_embed);
    }

    /// <summary>The stem configuration.</summary>
    public ConvStemConfig Stem { get; }

    private static int NumPatchesOf(VisionTransformerConfig config, ConvStemConfig stem)
    {
        if (config.ImgSize % stem.Reduction != 0)
        {
            throw new ArgumentException($"Image size {config.ImgSize} is not divisible by the conv stem's reduction {stem.Reduction}.", nameof(config));
        }
        var grid = config.ImgSize / stem.Reduction;
        return grid * grid;
    }

    /// <inheritdoc />
    protected override Tensor EmbedTokens(Tensor x)
    {
        using var scope = NewDisposeScope();
        var patches = conv_embed.call(x);
        var dist = patches.mean([1L], keepdim: true);
        return torch.cat([ClsTokens(patches.shape[0]), dist, patches], 1).MoveToOuterDisposeScope();
    }

    /// <summary>The reference's <c>conv_embed</c>: three conv-BN-ReLU layers then a strided projection to tokens.</summary>
    private sealed class ConvStem : nn.Module<Tensor, Tensor>
    {
        private readonly Sequential conv;
        private readonly Conv2d proj;

        public ConvStem(int inChans, int embedDim, ConvStemConfig stem) : base("conv_embed")
        {
            var c = stem.StemChannels;
            var first = nn.Conv2d(inChans, c, kernel_size: stem.FirstKernel, stride: stem.FirstStride, padding: stem.FirstKernel / 2, bias: false);
            var second = nn.Conv2d(c, c, kernel_size: 3, stride: 1, padding: 1, bias: false);
            var third = nn.Conv2d(c, c, kernel_size: 3, stride: 1, padding: 1, bias: false);
            // Indices match nn.Sequential(conv, bn, relu, conv, bn, relu, conv, bn, relu) in the reference.
            conv = nn.Sequential(
                ("0", first), ("1", nn.BatchNorm2d(c)), ("2", nn.ReLU()),
                ("3", second), ("4", nn.BatchNorm2d(c)), ("5", nn.ReLU()),
                ("6", third), ("7", nn.BatchNorm2d(c)), ("8", nn.ReLU()));
            proj = nn.Conv2d(c, embedDim, kernel_size: stem.ProjPatch, stride: stem.ProjPatch);
            register_module("conv", conv);
            register_module("proj", proj);
            foreach (var conv in new[] { first, second, third, proj })
            {
                WeightInit.KaimingNormalFanIn(conv);
            }
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return proj.call(conv.call(x)).flatten(2).transpose(1, 2).MoveToOuterDisposeScope();
        }
    }
}
