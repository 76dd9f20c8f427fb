using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Detection.Models;

/// <summary>
/// ViDT's decoder stack (<c>DeformableTransformerDecoder</c>, <c>return_intermediate=True</c>): with box refinement,
/// the reference is refined by <c>bbox_embed[0]</c> before the first layer (2-d → 4-d) and by <c>bbox_embed[i]</c>
/// after layer i, each time detached. Key <c>layers.{i}.*</c>; the refinement heads are the detector's, passed in
/// (ViDT also registers them here, as aliases <c>transformer.decoder.bbox_embed.*</c> of <c>bbox_embed.*</c>).
/// </summary>
public sealed class DeformableDecoder : nn.Module
{
    private readonly ModuleList<DeformableDecoderLayer> layers;

    /// <summary>Creates <paramref name="numLayers"/> layers built by <paramref name="layer"/>.</summary>
    public DeformableDecoder(Func<DeformableDecoderLayer> layer, int numLayers) : base(nameof(DeformableDecoder))
    {
        ArgumentNullException.ThrowIfNull(layer);
        layers = nn.ModuleList(Enumerable.Range(0, numLayers).Select(_ => layer()).ToArray());
        register_module("layers", layers);
    }

    /// <summary>Number of layers.</summary>
    public int NumLayers => layers.Count;

    /// <summary>The layers.</summary>
    public IReadOnlyList<DeformableDecoderLayer> Layers => [.. layers];

    /// <summary>Runs every layer.</summary>
    /// <param name="tgt">[DET] tokens [B, Q, d].</param>
    /// <param name="referencePoints">Initial references [B, Q, 2] (normalised x, y).</param>
    /// <param name="src">Flattened memory [B, S, d].</param>
    /// <param name="spatialShapes">(H_l, W_l) per level.</param>
    /// <param name="validRatios">[B, levels, 2] (w, h) fractions of unpadded area.</param>
    /// <param name="queryPos">[B, Q, d].</param>
    /// <param name="paddingMask">[B, S], true on padding, or null.</param>
    /// <param name="bboxEmbed">The <see cref="NumLayers"/> + 1 box heads for refinement, or null for none.</param>
    /// <returns>Stacked outputs [1 + layers, B, Q, d] (the input first) and the references after each refinement
    /// [1 + layers, B, Q, 4 (2 without refinement)].</returns>
    public (Tensor Hs, Tensor References) forward(Tensor tgt, Tensor referencePoints, Tensor src,
        IReadOnlyList<(long Height, long Width)> spatialShapes, Tensor validRatios, Tensor queryPos, Tensor? paddingMask,
        IReadOnlyList<nn.Module<Tensor, Tensor>>? bboxEmbed)
    {
        ArgumentNullException.ThrowIfNull(tgt);
        ArgumentNullException.ThrowIfNull(referencePoints);
        ArgumentNullException.ThrowIfNull(validRatios);
        if (bboxEmbed is not null && bboxEmbed.Count != NumLayers + 1)
        {
            throw new ArgumentException($"Box refinement needs {NumLayers + 1} box heads, got {bboxEmbed.Count}.", nameof(bboxEmbed));
        }
        using var scope = NewDisposeScope();
        var output = tgt;
        var reference = referencePoints;
        if (bboxEmbed is not null)
        {
            reference = Refine(bboxEmbed[0], output, reference);
        }
        var hs = new List<Tensor> { output };
        var references = new List<Tensor> { reference };
        for (var i = 0; i < layers.Count; i++)
        {
            var scale = reference.shape[^1] == 4 ? torch.cat([validRatios, validRatios], -1) : validRatios;
            var input = reference.unsqueeze(2) * scale.unsqueeze(1);
            output = layers[i].forward(output, queryPos, input, src, spatialShapes, paddingMask);
            if (bboxEmbed is not null)
            {
                reference = Refine(bboxEmbed[i + 1], output, reference);
            }
            hs.Add(output);
            references.Add(reference);
        }
        return (torch.stack(hs).MoveToOuterDisposeScope(), torch.stack(references).MoveToOuterDisposeScope());
    }

    private static Tensor Refine(nn.Module<Tensor, Tensor> head, Tensor output, Tensor reference)
    {
        var tmp = head.forward(output);
        var refined = reference.shape[^1] == 4
            ? tmp + VidtDetector.InverseSigmoid(reference)
            : torch.cat([tmp[.., .., ..2] + VidtDetector.InverseSigmoid(reference), tmp[.., .., 2..]], -1);
        return refined.sigmoid().detach();
    }
}

/// <summary>
/// ViDT's encoder-free deformable transformer (<c>DeformableTransformer</c> of
/// <c>methods/vidt/deformable_transformer.py</c>): flattens the [PATCH] maps and masks, computes the valid ratios,
/// turns the [DET] position embedding into reference points (<c>sigmoid(reference_points(query_pos))</c>) and runs
/// the decoder. Keys <c>level_embed</c> (kept, never used: there is no encoder), <c>decoder.*</c>,
/// <c>reference_points.*</c>.
/// </summary>
public sealed class DeformableTransformer : nn.Module
{
    private readonly Parameter level_embed;
    private readonly DeformableDecoder decoder;
    private readonly Linear reference_points;

    /// <summary>Creates the transformer with ViDT's initialisation: xavier-uniform on every parameter with more than
    /// one dimension, then each deformable attention's own reset, then <c>normal_(level_embed)</c>.</summary>
    public DeformableTransformer(int dModel = 256, int nHeads = 8, int numDecoderLayers = 6, int dimFeedforward = 1024,
        double dropout = 0.1, int numFeatureLevels = 4, int decNPoints = 4) : base(nameof(DeformableTransformer))
    {
        DModel = dModel;
        level_embed = new Parameter(torch.empty(numFeatureLevels, dModel));
        decoder = new DeformableDecoder(
            () => new DeformableDecoderLayer(dModel, dimFeedforward, dropout, numFeatureLevels, nHeads, decNPoints), numDecoderLayers);
        reference_points = nn.Linear(dModel, 2);
        register_parameter("level_embed", level_embed);
        register_module("decoder", decoder);
        register_module("reference_points", reference_points);
        using var noGrad = torch.no_grad();
        foreach (var p in parameters().Where(p => p.dim() > 1))
        {
            nn.init.xavier_uniform_(p);
        }
        foreach (var layer in decoder.Layers)
        {
            layer.CrossAttention.ResetParameters();
        }
        nn.init.normal_(level_embed);
    }

    /// <summary>Width d.</summary>
    public int DModel { get; }

    /// <summary>The decoder.</summary>
    public DeformableDecoder Decoder => decoder;

    /// <summary>ViDT's <c>get_valid_ratio</c>: (unpadded columns / W, unpadded rows / H) per image, from the first
    /// row and column of <paramref name="mask"/> [B, H, W] (true on padding). [B, 2].</summary>
    public static Tensor ValidRatio(Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        using var scope = NewDisposeScope();
        var h = mask.shape[1];
        var w = mask.shape[2];
        var validH = mask.select(2, 0).logical_not().sum(1).to(float32) / h;
        var validW = mask.select(1, 0).logical_not().sum(1).to(float32) / w;
        return torch.stack([validW, validH], -1).MoveToOuterDisposeScope();
    }

    /// <summary>Decodes the [DET] tokens against the multi-scale [PATCH] maps.</summary>
    /// <param name="srcs">[B, d, H_l, W_l] per level.</param>
    /// <param name="masks">[B, H_l, W_l] per level, true on padding.</param>
    /// <param name="tgt">[DET] tokens [B, Q, d].</param>
    /// <param name="queryPos">[DET] position embedding [1 or B, Q, d].</param>
    /// <param name="bboxEmbed">Box heads for iterative refinement, or null.</param>
    /// <returns><c>hs</c> [1 + layers, B, Q, d], the initial references [B, Q, 2] and the refined ones.</returns>
    public (Tensor Hs, Tensor InitReference, Tensor InterReferences) forward(IReadOnlyList<Tensor> srcs, IReadOnlyList<Tensor> masks,
        Tensor tgt, Tensor queryPos, IReadOnlyList<nn.Module<Tensor, Tensor>>? bboxEmbed = null)
    {
        ArgumentNullException.ThrowIfNull(srcs);
        ArgumentNullException.ThrowIfNull(masks);
        ArgumentNullException.ThrowIfNull(tgt);
        ArgumentNullException.ThrowIfNull(queryPos);
        if (srcs.Count != masks.Count)
        {
            throw new ArgumentException($"{srcs.Count} feature maps but {masks.Count} masks.", nameof(masks));
        }
        using var scope = NewDisposeScope();
        var shapes = srcs.Select(s => (s.shape[2], s.shape[3])).ToArray();
        var src = torch.cat(srcs.Select(s => s.flatten(2).transpose(1, 2)).ToArray(), 1);
        var mask = torch.cat(masks.Select(m => m.flatten(1)).ToArray(), 1);
        var validRatios = torch.stack(masks.Select(ValidRatio).ToArray(), 1);
        var pos = queryPos.expand(src.shape[0], -1, -1);
        var reference = reference_points.forward(pos).sigmoid();
        var (hs, references) = decoder.forward(tgt, reference, src, shapes, validRatios, pos, mask, bboxEmbed);
        return (hs.MoveToOuterDisposeScope(), reference.MoveToOuterDisposeScope(), references.MoveToOuterDisposeScope());
    }
}
