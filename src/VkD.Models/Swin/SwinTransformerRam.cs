using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// Swin's patch embedding (<c>PatchEmbed</c> of <c>swin_w_ram.py</c>, used by ViDT's backbone and the plain
/// <see cref="SwinTransformer"/>): right/bottom zero padding to a multiple of the patch (detection inputs; the
/// classifier's inputs are multiples already), Conv(k = s = patch), LayerNorm over channels. Returns
/// [B, C, ⌈H/p⌉, ⌈W/p⌉]. Keys <c>proj.*</c>, <c>norm.*</c>.
/// </summary>
public sealed class SwinPatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly int _patchSize;
    private readonly Conv2d proj;
    private readonly LayerNorm norm;

    /// <summary>Creates the embedding.</summary>
    public SwinPatchEmbed(int patchSize, int inChans, int embedDim) : base(nameof(SwinPatchEmbed))
    {
        _patchSize = patchSize;
        proj = nn.Conv2d(inChans, embedDim, kernel_size: patchSize, stride: patchSize);
        norm = nn.LayerNorm(embedDim);
        register_module("proj", proj);
        register_module("norm", norm);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var padW = (_patchSize - x.shape[3] % _patchSize) % _patchSize;
        var padH = (_patchSize - x.shape[2] % _patchSize) % _patchSize;
        if (padW > 0 || padH > 0)
        {
            x = nn.functional.pad(x, [0, padW, 0, padH]);
        }
        x = proj.forward(x);
        var (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        return norm.forward(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(b, c, h, w).MoveToOuterDisposeScope();
    }
}

/// <summary>What ViDT's Swin-RAM backbone hands to the neck.</summary>
/// <param name="PatchOutputs">[PATCH] maps [B, C_l, H_l, W_l] at strides 8, 16, 32 (stages 1–3 before merging:
/// 2C, 4C, 8C) and 64 (the last stage's merge: <see cref="SwinRamConfig.NeckDim"/>).</param>
/// <param name="DetTgt">The last stage's [DET] tokens before merging, [B, 8C, D].</param>
/// <param name="DetPos">The learned [DET] position embedding, [1, pos_dim, D].</param>
public sealed record SwinRamFeatures(IReadOnlyList<Tensor> PatchOutputs, Tensor DetTgt, Tensor DetPos) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in PatchOutputs)
        {
            t.Dispose();
        }
        DetTgt.Dispose();
        DetPos.Dispose();
    }
}

/// <summary>
/// ViDT's Swin Transformer with the Reconfigured Attention Module (<c>methods/swin_w_ram.py</c>, after
/// <c>finetune_det('vidt')</c>): [DET] tokens ride along every stage ([DET × DET] attention, [DET × PATCH]
/// cross-attention in <see cref="SwinRamConfig.CrossStages"/>), and the multi-scale [PATCH] maps, the final [DET]
/// tokens and their position embedding feed the deformable decoder. Key names equal ViDT's (<c>patch_embed.*</c>,
/// <c>layers.{s}.blocks.{i}.*</c>, <c>layers.{s}.downsample.*</c>, <c>norm1..3.*</c> (unused, as in ViDT),
/// <c>det_token</c>, <c>det_pos_embed</c>), so ViDT and Swin checkpoints load one-to-one.
/// </summary>
public sealed class SwinTransformerRam : nn.Module
{
    private readonly Parameter det_token;
    private readonly Parameter det_pos_embed;
    private readonly SwinPatchEmbed patch_embed;
    private readonly ModuleList<SwinRamStage> layers;
    private readonly LayerNorm norm1;
    private readonly LayerNorm norm2;
    private readonly LayerNorm norm3;
    private readonly int _maskDivisor;

    /// <summary>Builds the backbone (ViDT's initialisation: PyTorch defaults for Linear, Conv and LayerNorm,
    /// truncated normal (0.02) for the bias tables, <c>det_token</c> and <c>det_pos_embed</c>).</summary>
    public SwinTransformerRam(SwinRamConfig config) : base(nameof(SwinTransformerRam))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (config.NumStages != 4)
        {
            throw new ArgumentException($"ViDT's Swin has 4 stages (its unused norm1..norm3 assume it), got {config.NumStages}.", nameof(config));
        }
        Config = config;
        det_token = new Parameter(torch.zeros(1, config.DetTokenNum, config.EmbedDim));
        det_pos_embed = new Parameter(torch.zeros(1, config.DetTokenNum, config.PosDim));
        register_parameter("det_token", det_token);
        register_parameter("det_pos_embed", det_pos_embed);
        patch_embed = new SwinPatchEmbed(config.PatchSize, config.InChans, config.EmbedDim);
        var totalDepth = config.Depths.Sum();
        // timm: torch.linspace(0, drop_path_rate, sum(depths))
        var dpr = Enumerable.Range(0, totalDepth)
            .Select(i => totalDepth == 1 ? config.DropPathRate : config.DropPathRate * i / (totalDepth - 1)).ToArray();
        var stages = new SwinRamStage[config.NumStages];
        var start = 0;
        for (var s = 0; s < config.NumStages; s++)
        {
            var dim = config.StageDim(s);
            var outDim = s < config.NumStages - 1 ? 2 * dim : config.NeckDim;
            stages[s] = new SwinRamStage(dim, config.Depths[s], config.NumHeads[s], config.WindowSize, config.MlpRatio,
                dpr[start..(start + config.Depths[s])], config.PosDim, outDim);
            start += config.Depths[s];
        }
        layers = nn.ModuleList(stages);
        norm1 = nn.LayerNorm(config.StageDim(1));
        norm2 = nn.LayerNorm(config.StageDim(2));
        norm3 = nn.LayerNorm(config.StageDim(3));
        register_module("patch_embed", patch_embed);
        register_module("layers", layers);
        register_module("norm1", norm1);
        register_module("norm2", norm2);
        register_module("norm3", norm3);
        _maskDivisor = 1 << (config.NumStages - config.CrossStages.Count);
        WeightInit.TruncNormal(det_token, 0.02);
        WeightInit.TruncNormal(det_pos_embed, 0.02);
    }

    /// <summary>The configuration the backbone was built from.</summary>
    public SwinRamConfig Config { get; }

    /// <summary>Channels of <see cref="SwinRamFeatures.PatchOutputs"/>: 2C, 4C, 8C, neck width (ViDT's
    /// <c>num_channels</c>).</summary>
    public IReadOnlyList<int> NumChannels =>
        [.. Enumerable.Range(1, Config.NumStages - 1).Select(Config.StageDim), Config.NeckDim];

    /// <summary>Width of <see cref="SwinRamFeatures.DetTgt"/> (8C).</summary>
    public int NumFeatures => Config.StageDim(Config.NumStages - 1);

    /// <summary>The stages.</summary>
    public IReadOnlyList<SwinRamStage> Stages => [.. layers];

    /// <summary>
    /// ViDT's <c>SwinTransformer.forward(x, mask)</c>.
    /// </summary>
    /// <param name="x">Images [B, 3, H, W] (zero-padded batch).</param>
    /// <param name="mask">Padding mask [B, H, W], true on padding; null for none.</param>
    public SwinRamFeatures ForwardFeatures(Tensor x, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.ndim != 4 || x.shape[1] != Config.InChans)
        {
            throw new ArgumentException($"Expected images [B, {Config.InChans}, H, W], got [{string.Join(", ", x.shape)}].", nameof(x));
        }
        var minSide = Config.PatchSize * _maskDivisor;
        if (x.shape[2] < minSide || x.shape[3] < minSide)
        {
            throw new ArgumentException($"Images must be at least {minSide}x{minSide} pixels (patch {Config.PatchSize} x mask divisor {_maskDivisor}), got {x.shape[2]}x{x.shape[3]}.", nameof(x));
        }
        if (mask is not null && (mask.ndim != 3 || mask.shape[0] != x.shape[0] || mask.shape[1] != x.shape[2] || mask.shape[2] != x.shape[3]))
        {
            throw new ArgumentException($"The mask must be [B, H, W] = [{x.shape[0]}, {x.shape[2]}, {x.shape[3]}], got [{string.Join(", ", mask.shape)}].", nameof(mask));
        }
        using var scope = NewDisposeScope();
        var b = x.shape[0];
        var numDet = Config.DetTokenNum;
        mask ??= torch.zeros(b, x.shape[2], x.shape[3], ScalarType.Bool, x.device);
        var patches = patch_embed.forward(x);
        long wh = patches.shape[2], ww = patches.shape[3];
        var tokens = patches.flatten(2).transpose(1, 2);
        var det = det_token.expand(b, -1, -1);
        var crossMask = SwinRamStage.ResizeMask(mask, wh / _maskDivisor, ww / _maskDivisor);
        var outputs = new List<Tensor>();
        Tensor? stageOut = null;
        for (var s = 0; s < layers.Count; s++)
        {
            var (h, w) = (wh, ww);
            var (output, merged, mh, mw) = layers[s].forward(torch.cat([tokens, det], 1), h, w, det_pos_embed, crossMask,
                Config.CrossStages.Contains(s));
            (wh, ww) = (mh, mw);
            tokens = merged.narrow(1, 0, mh * mw);
            det = merged.narrow(1, mh * mw, numDet);
            if (s > 0)
            {
                outputs.Add(output.narrow(1, 0, h * w).reshape(b, h, w, -1).permute(0, 3, 1, 2));
            }
            stageOut = output;
        }
        outputs.Add(tokens.reshape(b, wh, ww, -1).permute(0, 3, 1, 2));
        var detTgt = stageOut!.narrow(1, stageOut.shape[1] - numDet, numDet).permute(0, 2, 1);
        var detPos = det_pos_embed.permute(0, 2, 1);
        foreach (var t in outputs)
        {
            t.MoveToOuterDisposeScope();
        }
        return new SwinRamFeatures(outputs, detTgt.MoveToOuterDisposeScope(), detPos.MoveToOuterDisposeScope());
    }

    /// <summary>ViDT's <c>no_weight_decay</c>: the [DET] token and its position embedding.</summary>
    public static IReadOnlyList<string> NoWeightDecayKeys { get; } = ["det_token", "det_pos_embed"];
}
