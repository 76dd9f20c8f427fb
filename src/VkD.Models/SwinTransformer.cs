using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using VkD.Models.Swin;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>Hyper-parameters of the plain Swin Transformer classifier (microsoft/Swin-Transformer
/// <c>SwinTransformer</c>: no absolute position embedding, qkv bias, patch norm, LayerNorm eps 1e-5).</summary>
/// <param name="ImgSize">Input side; the shift masks are built for it.</param>
/// <param name="PatchSize">Patch side of the embedding (4).</param>
/// <param name="InChans">Input channels.</param>
/// <param name="NumClasses">Classes of the head; 0 for none.</param>
/// <param name="EmbedDim">Width C of stage 0; stage i is C·2^i wide.</param>
/// <param name="Depths">Blocks per stage.</param>
/// <param name="NumHeads">Attention heads per stage.</param>
/// <param name="WindowSize">Window side (7).</param>
/// <param name="MlpRatio">MLP hidden width / block width (4).</param>
/// <param name="DropPathRate">Stochastic depth of the last block, ramped linearly from 0 over all blocks (timm).</param>
public sealed record SwinTransformerConfig(
    int ImgSize,
    int PatchSize,
    int InChans,
    int NumClasses,
    int EmbedDim,
    IReadOnlyList<int> Depths,
    IReadOnlyList<int> NumHeads,
    int WindowSize = 7,
    double MlpRatio = 4.0,
    double DropPathRate = 0.0)
{
    /// <summary>Width of stage <paramref name="stage"/>: C·2^stage.</summary>
    public int StageDim(int stage) => EmbedDim << stage;

    /// <summary>Throws <see cref="ArgumentException"/> when the configuration cannot be built.</summary>
    public void Validate()
    {
        if (Depths.Count == 0 || Depths.Count != NumHeads.Count)
        {
            throw new ArgumentException($"Swin needs one head count per stage: {Depths.Count} depths, {NumHeads.Count} head counts.");
        }
        if (EmbedDim <= 0 || WindowSize < 1 || PatchSize <= 0 || InChans <= 0 || NumClasses < 0 || ImgSize <= 0)
        {
            throw new ArgumentException("Swin sizes (image, patch, channels, embed dim, window) must be positive.");
        }
        if (ImgSize % PatchSize != 0)
        {
            throw new ArgumentException($"Image size {ImgSize} is not divisible by patch size {PatchSize}.");
        }
        var grid = ImgSize / PatchSize;
        for (var i = 0; i < Depths.Count; i++)
        {
            if (Depths[i] <= 0 || NumHeads[i] <= 0 || StageDim(i) % NumHeads[i] != 0)
            {
                throw new ArgumentException($"Stage {i}: width {StageDim(i)} must be divisible by {NumHeads[i]} heads and depth {Depths[i]} positive.");
            }
            if (i < Depths.Count - 1 && (grid >> i) % 2 != 0)
            {
                throw new ArgumentException($"Image size {ImgSize}: stage {i}'s {grid >> i}x{grid >> i} map cannot be merged 2x2 (Swin classification does not pad).");
            }
        }
        if (DropPathRate is < 0 or >= 1)
        {
            throw new ArgumentException($"Drop-path rate must be in [0, 1), got {DropPathRate}.");
        }
    }
}

/// <summary>
/// The plain Swin Transformer classifier (microsoft/Swin-Transformer <c>models/swin_transformer.py</c>, timm's
/// <c>swin_*_patch4_window7_224</c>): patch embedding, stages of (shifted) window attention with patch merging, final
/// LayerNorm, mean over tokens, linear head. Keys equal the release's (<c>patch_embed.proj.*</c>,
/// <c>patch_embed.norm.*</c>, <c>layers.{i}.blocks.{j}.*</c> with the <c>relative_position_index</c> and
/// <c>attn_mask</c> buffers, <c>layers.{i}.downsample.*</c>, <c>norm.*</c>, <c>head.*</c>), so the release files
/// load strictly; the buffers are checked against the model's, not copied (<see cref="IDerivedBuffers"/>).
/// </summary>
public sealed class SwinTransformer : ClassifierModel, IDerivedBuffers
{
    private readonly SwinPatchEmbed patch_embed;
    private readonly ModuleList<SwinStage> layers;
    private readonly LayerNorm norm;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Builds the model (the release's initialisation: truncated normal (0.02) Linear weights and bias
    /// tables, zero biases, unit LayerNorms, PyTorch's default for the patch convolution).</summary>
    public SwinTransformer(SwinTransformerConfig config) : base(nameof(SwinTransformer))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        patch_embed = new SwinPatchEmbed(config.PatchSize, config.InChans, config.EmbedDim);
        var totalDepth = config.Depths.Sum();
        // timm: torch.linspace(0, drop_path_rate, sum(depths))
        var dpr = Enumerable.Range(0, totalDepth)
            .Select(i => totalDepth == 1 ? config.DropPathRate : config.DropPathRate * i / (totalDepth - 1)).ToArray();
        var grid = config.ImgSize / config.PatchSize;
        var stages = new SwinStage[config.Depths.Count];
        var derived = new List<string>();
        var start = 0;
        for (var s = 0; s < stages.Length; s++)
        {
            var res = grid >> s;
            stages[s] = new SwinStage(config.StageDim(s), res, res, config.Depths[s], config.NumHeads[s], config.WindowSize,
                config.MlpRatio, dpr[start..(start + config.Depths[s])], merge: s < stages.Length - 1);
            start += config.Depths[s];
            for (var j = 0; j < stages[s].Blocks.Count; j++)
            {
                derived.AddRange(stages[s].Blocks[j].DerivedBufferKeys.Select(k => $"layers.{s}.blocks.{j}.{k}"));
            }
        }
        DerivedBufferKeys = derived;
        layers = nn.ModuleList(stages);
        NumFeatures = config.StageDim(stages.Length - 1);
        norm = nn.LayerNorm(NumFeatures);
        head = config.NumClasses > 0 ? nn.Linear(NumFeatures, config.NumClasses) : nn.Identity();
        register_module("patch_embed", patch_embed);
        register_module("layers", layers);
        register_module("norm", norm);
        register_module("head", head);
        foreach (var linear in modules().OfType<Linear>())
        {
            WeightInit.VitLinear(linear);
        }
    }

    /// <summary>The configuration the model was built from.</summary>
    public SwinTransformerConfig Config { get; }

    /// <inheritdoc />
    public override int NumFeatures { get; }

    /// <inheritdoc />
    public override int NumClasses => Config.NumClasses;

    /// <summary>The stages.</summary>
    public IReadOnlyList<SwinStage> Stages => [.. layers];

    /// <summary>Every block's <c>attn.relative_position_index</c> and the shifted blocks' <c>attn_mask</c>.</summary>
    public IReadOnlyCollection<string> DerivedBufferKeys { get; }

    /// <summary>The normed tokens of the last stage, [B, (H/32)·(W/32), 8C] for four stages.</summary>
    public override Tensor ForwardFeatures(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var size = Config.ImgSize;
        if (x.ndim != 4 || x.shape[1] != Config.InChans || x.shape[2] != size || x.shape[3] != size)
        {
            throw new ArgumentException($"Expected images [B, {Config.InChans}, {size}, {size}] (Swin's masks are built for its image size), got [{string.Join(", ", x.shape)}].", nameof(x));
        }
        using var scope = NewDisposeScope();
        var tokens = patch_embed.forward(x).flatten(2).transpose(1, 2);
        foreach (var stage in layers)
        {
            tokens = stage.forward(tokens);
        }
        return norm.forward(tokens).MoveToOuterDisposeScope();
    }

    /// <summary>Mean over tokens → head; with <paramref name="preLogits"/> the pooled features [B, NumFeatures].</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        ArgumentNullException.ThrowIfNull(features);
        using var scope = NewDisposeScope();
        var pooled = features.mean([1]);
        return (preLogits ? pooled : head.call(pooled)).MoveToOuterDisposeScope();
    }
}
