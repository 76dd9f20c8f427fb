using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>
/// The trunk shared by every ViT/DeiT variant (timm's <c>VisionTransformer</c>): prefix tokens + patch tokens,
/// learned position embedding, pre-norm blocks, final LayerNorm. Subclasses provide the token embedding and the
/// head. Keys: <c>cls_token</c>, <c>pos_embed</c>, <c>blocks.{i}.*</c>, <c>norm.*</c>, <c>head.*</c>.
/// </summary>
public abstract class VisionTransformerBase : ClassifierModel
{
    private readonly Parameter cls_token;
    private readonly Parameter pos_embed;
    private readonly ModuleList<TransformerBlock> blocks;
    private readonly LayerNorm norm;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Builds the trunk for <paramref name="numPatches"/> patch tokens after <paramref name="numPrefixTokens"/>
    /// prefix tokens (cls, and dist for distilled models).</summary>
    protected VisionTransformerBase(string name, VisionTransformerConfig config, int numPatches, int numPrefixTokens)
        : base(name)
    {
        Config = config;
        NumPatches = numPatches;
        NumPrefixTokens = numPrefixTokens;
        var d = config.EmbedDim;
        cls_token = new Parameter(torch.zeros(1, 1, d));
        pos_embed = new Parameter(torch.zeros(1, numPatches + numPrefixTokens, d));
        var blockArray = new TransformerBlock[config.Depth];
        for (var i = 0; i < config.Depth; i++)
        {
            // timm: torch.linspace(0, drop_path_rate, depth)
            var dpr = config.Depth == 1 ? config.DropPathRate : config.DropPathRate * i / (config.Depth - 1);
            blockArray[i] = new TransformerBlock(d, config.NumHeads, config.MlpRatio, config.QkvBias, dpr, config.NormEps);
        }
        blocks = nn.ModuleList(blockArray);
        norm = nn.LayerNorm(d, config.NormEps);
        head = config.NumClasses > 0 ? nn.Linear(d, config.NumClasses) : nn.Identity();
        register_parameter("cls_token", cls_token);
        register_parameter("pos_embed", pos_embed);
        register_module("blocks", blocks);
        register_module("norm", norm);
        register_module("head", head);

        // timm init_weights(''): pos_embed ~ trunc_normal(.02), cls_token ~ normal(1e-6), Linear ~ trunc_normal(.02).
        WeightInit.TruncNormal(pos_embed, 0.02);
        WeightInit.Normal(cls_token, 1e-6);
        foreach (var block in blockArray)
        {
            foreach (var module in block.modules().OfType<Linear>())
            {
                WeightInit.VitLinear(module);
            }
        }
        if (head is Linear headLinear)
        {
            WeightInit.VitLinear(headLinear);
        }
    }

    /// <summary>The configuration the model was built from.</summary>
    public VisionTransformerConfig Config { get; }

    /// <summary>Number of patch tokens.</summary>
    public int NumPatches { get; }

    /// <summary>Tokens before the patch tokens: 1 (cls) or 2 (cls, dist).</summary>
    public int NumPrefixTokens { get; }

    /// <inheritdoc />
    public override int NumFeatures => Config.EmbedDim;

    /// <inheritdoc />
    public override int NumClasses => Config.NumClasses;

    /// <summary>The learned class token [1, 1, D].</summary>
    protected Parameter ClsToken => cls_token;

    /// <summary>The class head (identity when <see cref="NumClasses"/> is 0).</summary>
    protected nn.Module<Tensor, Tensor> Head => head;

    /// <summary>Turns the image into the token sequence [B, prefix + patches, D] before the position embedding.</summary>
    protected abstract Tensor EmbedTokens(Tensor x);

    /// <summary>The normed token sequence [B, prefix + patches, D] (timm's <c>forward_features</c>).</summary>
    public override Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        var tokens = EmbedTokens(x) + pos_embed;
        foreach (var block in blocks)
        {
            tokens = block.call(tokens);
        }
        return norm.call(tokens).MoveToOuterDisposeScope();
    }

    /// <summary>Expands the class token over a batch of <paramref name="batch"/>.</summary>
    protected Tensor ClsTokens(long batch) => cls_token.expand(batch, -1, -1);
}
