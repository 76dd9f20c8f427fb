using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Swin;
using static TorchSharp.torch;

namespace VkD.Detection.Models;

/// <summary>
/// Hyper-parameters of a ViDT detector (<c>methods/vidt/detector.py</c> <c>build</c>: <c>aux_loss</c> outputs
/// always computed, <c>with_box_refine</c> on or off, no EPFF / UQR / IoU-aware / token labels).
/// </summary>
/// <param name="Backbone">The Swin-RAM backbone (its <see cref="SwinRamConfig.PosDim"/> must equal
/// <paramref name="HiddenDim"/>, as ViDT sets <c>pos_dim = reduced_dim</c>).</param>
/// <param name="NumClasses">Classes of <c>class_embed</c> (COCO: 91, the raw category ids).</param>
/// <param name="HiddenDim">Width of the neck and decoder (<c>reduced_dim</c>, 256); a multiple of 32 (GroupNorm(32)).</param>
/// <param name="NHeads">Decoder attention heads (8).</param>
/// <param name="DecLayers">Decoder layers (6).</param>
/// <param name="DimFeedforward">Decoder FFN width (1024).</param>
/// <param name="Dropout">Decoder dropout (0.1).</param>
/// <param name="DecNPoints">Deformable sampling points per head and level (4).</param>
/// <param name="WithBoxRefine">ViDT's <c>--with_box_refine</c> (VkD and ViDT's releases: on). On: 7 unshared
/// class/box heads, the decoder refines the references (2-d, then 4-d boxes). Off: one class head and one box head
/// shared by all 7 predictions (listed 7 times in the state dict, as in PyTorch) and 2-d references throughout.</param>
public sealed record VidtConfig(
    SwinRamConfig Backbone,
    int NumClasses = 91,
    int HiddenDim = 256,
    int NHeads = 8,
    int DecLayers = 6,
    int DimFeedforward = 1024,
    double Dropout = 0.1,
    int DecNPoints = 4,
    bool WithBoxRefine = true)
{
    /// <summary>ViDT with Swin-nano.</summary>
    public static VidtConfig Nano { get; } = new(SwinRamConfig.Nano);

    /// <summary>ViDT with Swin-tiny.</summary>
    public static VidtConfig Tiny { get; } = new(SwinRamConfig.Tiny);

    /// <summary>ViDT with Swin-small.</summary>
    public static VidtConfig Small { get; } = new(SwinRamConfig.Small);

    /// <summary>ViDT with Swin-base (VkD's teacher).</summary>
    public static VidtConfig Base { get; } = new(SwinRamConfig.Base);

    /// <summary>Number of feature levels (the backbone's four outputs).</summary>
    public int NumFeatureLevels => 4;

    /// <summary>Throws <see cref="ArgumentException"/> when the configuration cannot be built.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Backbone);
        Backbone.Validate();
        if (HiddenDim <= 0 || HiddenDim % 32 != 0)
        {
            throw new ArgumentException($"HiddenDim must be a positive multiple of 32 (GroupNorm(32)), got {HiddenDim}.");
        }
        if (Backbone.PosDim != HiddenDim)
        {
            throw new ArgumentException($"The backbone's PosDim ({Backbone.PosDim}) must equal HiddenDim ({HiddenDim}), as in ViDT.");
        }
        if (NumClasses <= 0 || NHeads <= 0 || HiddenDim % NHeads != 0 || DecLayers <= 0 || DimFeedforward <= 0 || DecNPoints <= 0)
        {
            throw new ArgumentException("ViDT sizes must be positive and HiddenDim divisible by NHeads.");
        }
        if (Dropout is < 0 or >= 1)
        {
            throw new ArgumentException($"Dropout must be in [0, 1), got {Dropout}.");
        }
    }
}

/// <summary>DETR's box head <c>MLP(d, d, 4, 3)</c>: Linear layers with ReLU between them (keys <c>layers.{i}.*</c>).</summary>
public sealed class BoxMlp : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> layers;

    /// <summary>Creates <paramref name="numLayers"/> Linear layers <paramref name="inputDim"/> → hidden → … →
    /// <paramref name="outputDim"/>.</summary>
    public BoxMlp(int inputDim, int hiddenDim, int outputDim, int numLayers) : base(nameof(BoxMlp))
    {
        var dims = new[] { inputDim }.Concat(Enumerable.Repeat(hiddenDim, numLayers - 1)).Append(outputDim).ToArray();
        layers = nn.ModuleList(Enumerable.Range(0, numLayers).Select(i => nn.Linear(dims[i], dims[i + 1])).ToArray());
        register_module("layers", layers);
    }

    /// <summary>The Linear layers.</summary>
    public IReadOnlyList<Linear> Layers => [.. layers];

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        for (var i = 0; i < layers.Count; i++)
        {
            x = layers[i].forward(x);
            if (i < layers.Count - 1)
            {
                x = nn.functional.relu(x);
            }
        }
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>What <see cref="VidtDetector.forward"/> returns. Prediction index p = 0 is made from the decoder input,
/// p = 1..L from the decoder layers; the last is ViDT's <c>pred_logits</c> / <c>pred_boxes</c>, the others its
/// <c>aux_outputs</c>.</summary>
/// <param name="Logits">Class logits [L + 1, B, Q, classes].</param>
/// <param name="Boxes">Normalised (cx, cy, w, h) boxes [L + 1, B, Q, 4].</param>
/// <param name="PatchTokens">The projected [PATCH] maps <c>srcs</c> [B, d, H_l, W_l] (VkD's <c>patch_token</c>).</param>
/// <param name="BodyDetToken">The projected backbone [DET] tokens <c>det_tgt</c> [B, Q, d] (VkD's <c>body_det_token</c>).</param>
/// <param name="NeckDetToken">The decoder outputs <c>hs</c> [L + 1, B, Q, d], input first (VkD's <c>neck_det_token</c>).</param>
/// <param name="InitReference">Reference points from the [DET] position embedding [B, Q, 2].</param>
/// <param name="InterReferences">References after each refinement [L + 1, B, Q, 4]; without box refinement the
/// initial 2-d references repeated, [L + 1, B, Q, 2], as ViDT's decoder returns them.</param>
public sealed record VidtOutputs(Tensor Logits, Tensor Boxes, IReadOnlyList<Tensor> PatchTokens, Tensor BodyDetToken,
    Tensor NeckDetToken, Tensor InitReference, Tensor InterReferences) : IDisposable
{
    /// <summary>The final class logits [B, Q, classes] (<c>pred_logits</c>).</summary>
    public Tensor PredLogits => Logits[-1];

    /// <summary>The final boxes [B, Q, 4] (<c>pred_boxes</c>).</summary>
    public Tensor PredBoxes => Boxes[-1];

    /// <inheritdoc />
    public void Dispose()
    {
        Logits.Dispose();
        Boxes.Dispose();
        foreach (var t in PatchTokens)
        {
            t.Dispose();
        }
        BodyDetToken.Dispose();
        NeckDetToken.Dispose();
        InitReference.Dispose();
        InterReferences.Dispose();
    }
}

/// <summary>
/// ViDT (<c>methods/vidt/detector.py</c> <c>Detector</c>, with <c>aux_loss</c> outputs): Swin with RAM →
/// <c>input_proj</c> (Conv 1×1 + GroupNorm(32)) per level, <c>tgt_proj</c> on the [DET] tokens,
/// <c>query_pos_proj</c> on their position embedding → encoder-free deformable decoder → class and box heads per
/// prediction: unshared with iterative box refinement (<see cref="VidtConfig.WithBoxRefine"/>), one shared pair
/// without. Key names equal ViDT's; with box refinement ViDT's state dicts also hold
/// <c>transformer.decoder.bbox_embed.*</c>, an alias of <c>bbox_embed.*</c> (same tensors), which
/// <see cref="CheckpointExcludePrefixes"/> names for loading (<see cref="VidtCheckpoint"/> does it, and writes the alias
/// back when saving).
/// </summary>
public sealed class VidtDetector : nn.Module
{
    private readonly DeformableTransformer transformer;
    private readonly ModuleList<Linear> class_embed;
    private readonly ModuleList<BoxMlp> bbox_embed;
    private readonly SwinTransformerRam backbone;
    private readonly ModuleList<Sequential> input_proj;
    private readonly Sequential tgt_proj;
    private readonly Sequential query_pos_proj;

    /// <summary>Builds the detector with ViDT's initialisation.</summary>
    public VidtDetector(VidtConfig config) : base(nameof(VidtDetector))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var d = config.HiddenDim;
        transformer = new DeformableTransformer(d, config.NHeads, config.DecLayers, config.DimFeedforward, config.Dropout,
            config.NumFeatureLevels, config.DecNPoints);
        var numPred = config.DecLayers + 1;
        var prior = -Math.Log((1 - 0.01) / 0.01);
        Linear[] classes;
        BoxMlp[] boxes;
        using (torch.no_grad())
        {
            if (config.WithBoxRefine)
            {
                // ViDT initialises one head pair, then deep-copies it into the unshared clones: all start equal.
                classes = Enumerable.Range(0, numPred).Select(_ => nn.Linear(d, config.NumClasses)).ToArray();
                boxes = Enumerable.Range(0, numPred).Select(_ => new BoxMlp(d, d, 4, 3)).ToArray();
                classes[0].bias!.fill_(prior);
                boxes[0].Layers[^1].weight!.zero_();
                boxes[0].Layers[^1].bias!.zero_();
                for (var i = 1; i < numPred; i++)
                {
                    classes[i].weight!.copy_(classes[0].weight!);
                    classes[i].bias!.copy_(classes[0].bias!);
                    for (var j = 0; j < boxes[0].Layers.Count; j++)
                    {
                        boxes[i].Layers[j].weight!.copy_(boxes[0].Layers[j].weight!);
                        boxes[i].Layers[j].bias!.copy_(boxes[0].Layers[j].bias!);
                    }
                }
                boxes[0].Layers[^1].bias!.narrow(0, 2, 2).fill_(-2.0);
            }
            else
            {
                // ViDT: nn.ModuleList([self.class_embed for _ in range(num_pred)]): one module under 7 names, so the
                // state dict lists it 7 times while parameters() yields it once (TorchSharp dedupes as PyTorch does).
                var sharedClass = nn.Linear(d, config.NumClasses);
                var sharedBox = new BoxMlp(d, d, 4, 3);
                sharedClass.bias!.fill_(prior);
                sharedBox.Layers[^1].weight!.zero_();
                sharedBox.Layers[^1].bias!.zero_();
                sharedBox.Layers[^1].bias!.narrow(0, 2, 2).fill_(-2.0);
                classes = Enumerable.Repeat(sharedClass, numPred).ToArray();
                boxes = Enumerable.Repeat(sharedBox, numPred).ToArray();
            }
        }
        class_embed = nn.ModuleList(classes);
        bbox_embed = nn.ModuleList(boxes);
        backbone = new SwinTransformerRam(config.Backbone);
        input_proj = nn.ModuleList(backbone.NumChannels.Select(c => Projection(c, d)).ToArray());
        tgt_proj = Projection(backbone.NumFeatures, d);
        query_pos_proj = Projection(d, d);
        register_module("transformer", transformer);
        register_module("class_embed", class_embed);
        register_module("bbox_embed", bbox_embed);
        register_module("backbone", backbone);
        register_module("input_proj", input_proj);
        register_module("tgt_proj", tgt_proj);
        register_module("query_pos_proj", query_pos_proj);
    }

    /// <summary>Prefix of ViDT's alias entries (<c>transformer.decoder.bbox_embed.*</c> = <c>bbox_embed.*</c>): exclude
    /// it when loading a ViDT checkpoint (<c>StateDictOptions.ExcludePrefixes</c>).</summary>
    public static IReadOnlyList<string> CheckpointExcludePrefixes { get; } = ["transformer.decoder.bbox_embed."];

    /// <summary>The configuration the detector was built from.</summary>
    public VidtConfig Config { get; }

    /// <summary>Smallest image side the model accepts: ViDT shrinks the padding mask to stride
    /// patch × 2^(stages − cross stages) (4 × 8 = 32 px) for the [DET × PATCH] attention, and an empty mask fails.</summary>
    public int MinImageSide => Config.Backbone.PatchSize << (Config.Backbone.NumStages - Config.Backbone.CrossStages.Count);

    /// <summary>The Swin-RAM backbone.</summary>
    public SwinTransformerRam Backbone => backbone;

    /// <summary>The deformable transformer.</summary>
    public DeformableTransformer Transformer => transformer;

    /// <summary>ViDT's <c>inverse_sigmoid</c>: <c>log(clamp(x, 1e-5) / clamp(1 − x, 1e-5))</c> after clamping x to [0, 1].</summary>
    public static Tensor InverseSigmoid(Tensor x, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        var c = x.clamp(0, 1);
        return (c.clamp_min(eps) / (1 - c).clamp_min(eps)).log().MoveToOuterDisposeScope();
    }

    /// <summary>Conv 1×1 + GroupNorm(32) with ViDT's init: xavier-uniform conv weight, zero bias, GroupNorm weight 1 and
    /// bias 0 (set explicitly: TorchSharp 0.107's <c>nn.GroupNorm</c> leaves its affine parameters uninitialised).</summary>
    private static Sequential Projection(int inChannels, int outChannels)
    {
        var conv = nn.Conv2d(inChannels, outChannels, kernel_size: 1);
        var gn = nn.GroupNorm(32, outChannels);
        using (torch.no_grad())
        {
            nn.init.xavier_uniform_(conv.weight!);
            conv.bias!.zero_();
            gn.weight!.fill_(1.0);
            gn.bias!.zero_();
        }
        return nn.Sequential(("0", conv), ("1", gn));
    }

    /// <summary>ViDT's <c>Detector.forward</c> on a padded batch.</summary>
    /// <param name="images">[B, 3, H, W].</param>
    /// <param name="mask">[B, H, W], true on padding; null for none.</param>
    public VidtOutputs forward(Tensor images, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.ndim != 4 || images.shape[1] != Config.Backbone.InChans)
        {
            throw new ArgumentException($"ViDT takes images [B, {Config.Backbone.InChans}, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        }
        if (images.shape[0] == 0)
        {
            throw new ArgumentException($"Empty batch: images of shape [{string.Join(", ", images.shape)}] hold no image.", nameof(images));
        }
        if (mask is not null && (mask.ndim != 3 || mask.shape[0] != images.shape[0] || mask.shape[1] != images.shape[2] || mask.shape[2] != images.shape[3]))
        {
            throw new ArgumentException($"The padding mask must be [B, H, W] = [{images.shape[0]}, {images.shape[2]}, {images.shape[3]}]; got [{string.Join(", ", mask.shape)}].", nameof(mask));
        }
        var minSide = MinImageSide;
        if (images.shape[2] < minSide || images.shape[3] < minSide)
        {
            throw new ArgumentException($"Images of {images.shape[2]}x{images.shape[3]} px (shape [{string.Join(", ", images.shape)}]) are too small for this ViDT: "
                + $"each side needs at least {minSide} px (patch {Config.Backbone.PatchSize} x 8 for the stride-32 [DET x PATCH] mask; one window is "
                + $"{Config.Backbone.WindowSize * Config.Backbone.PatchSize} px). Resize them up (the val pipeline resizes to --eval_size).", nameof(images));
        }
        using var scope = NewDisposeScope();
        mask ??= torch.zeros(images.shape[0], images.shape[2], images.shape[3], ScalarType.Bool, images.device);
        using var features = backbone.ForwardFeatures(images, mask);
        var detTgt = tgt_proj.forward(features.DetTgt.unsqueeze(-1)).squeeze(-1).permute(0, 2, 1);
        var detPos = query_pos_proj.forward(features.DetPos.unsqueeze(-1)).squeeze(-1).permute(0, 2, 1);
        var srcs = features.PatchOutputs.Select((f, l) => input_proj[l].forward(f)).ToArray();
        var masks = srcs.Select(s => SwinRamStage.ResizeMask(mask, s.shape[2], s.shape[3])).ToArray();
        var heads = Config.WithBoxRefine ? bbox_embed.Cast<nn.Module<Tensor, Tensor>>().ToArray() : null;
        var (hs, initReference, interReferences) = transformer.forward(srcs, masks, detTgt, detPos, heads);
        var logits = new Tensor[hs.shape[0]];
        var boxes = new Tensor[hs.shape[0]];
        for (var p = 0; p < hs.shape[0]; p++)
        {
            var reference = InverseSigmoid(p == 0 ? initReference : interReferences[p - 1]);
            var tmp = bbox_embed[p].forward(hs[p]);
            tmp = reference.shape[^1] == 4
                ? tmp + reference
                : torch.cat([tmp[.., .., ..2] + reference, tmp[.., .., 2..]], -1);
            logits[p] = class_embed[p].forward(hs[p]);
            boxes[p] = tmp.sigmoid();
        }
        var outputs = new VidtOutputs(torch.stack(logits), torch.stack(boxes), srcs, detTgt, hs, initReference, interReferences);
        foreach (var t in srcs)
        {
            t.MoveToOuterDisposeScope();
        }
        outputs.Logits.MoveToOuterDisposeScope();
        outputs.Boxes.MoveToOuterDisposeScope();
        detTgt.MoveToOuterDisposeScope();
        hs.MoveToOuterDisposeScope();
        initReference.MoveToOuterDisposeScope();
        interReferences.MoveToOuterDisposeScope();
        return outputs;
    }
}
