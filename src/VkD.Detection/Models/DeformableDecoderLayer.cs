using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Detection.Models;

/// <summary>
/// ViDT's decoder layer (<c>DeformableTransformerDecoderLayer</c>, post-norm): [DET] self-attention with
/// <c>q = k = tgt + pos</c>, <c>v = tgt</c> → <c>norm2</c>; multi-scale deformable cross-attention from
/// <c>tgt + pos</c> to the [PATCH] memory → <c>norm1</c>; FFN (ReLU) → <c>norm3</c>; dropout on every residual
/// branch. Keys <c>cross_attn.*</c>, <c>norm1.*</c>, <c>self_attn.*</c>, <c>norm2.*</c>, <c>linear1.*</c>,
/// <c>linear2.*</c>, <c>norm3.*</c>.
/// </summary>
public sealed class DeformableDecoderLayer : nn.Module
{
    private readonly MultiScaleDeformableAttention cross_attn;
    private readonly Dropout dropout1;
    private readonly LayerNorm norm1;
    private readonly VidtMultiheadAttention self_attn;
    private readonly Dropout dropout2;
    private readonly LayerNorm norm2;
    private readonly Linear linear1;
    private readonly Dropout dropout3;
    private readonly Linear linear2;
    private readonly Dropout dropout4;
    private readonly LayerNorm norm3;

    /// <summary>Creates the layer (ViDT: 256, FFN 1024, dropout 0.1, 4 levels, 8 heads, 4 points).</summary>
    public DeformableDecoderLayer(int dModel = 256, int dFfn = 1024, double dropout = 0.1, int nLevels = 4, int nHeads = 8, int nPoints = 4)
        : base(nameof(DeformableDecoderLayer))
    {
        cross_attn = new MultiScaleDeformableAttention(dModel, nLevels, nHeads, nPoints);
        dropout1 = nn.Dropout(dropout);
        norm1 = nn.LayerNorm(dModel);
        self_attn = new VidtMultiheadAttention(dModel, nHeads, dropout);
        dropout2 = nn.Dropout(dropout);
        norm2 = nn.LayerNorm(dModel);
        linear1 = nn.Linear(dModel, dFfn);
        dropout3 = nn.Dropout(dropout);
        linear2 = nn.Linear(dFfn, dModel);
        dropout4 = nn.Dropout(dropout);
        norm3 = nn.LayerNorm(dModel);
        register_module("cross_attn", cross_attn);
        register_module("dropout1", dropout1);
        register_module("norm1", norm1);
        register_module("self_attn", self_attn);
        register_module("dropout2", dropout2);
        register_module("norm2", norm2);
        register_module("linear1", linear1);
        register_module("dropout3", dropout3);
        register_module("linear2", linear2);
        register_module("dropout4", dropout4);
        register_module("norm3", norm3);
    }

    /// <summary>The deformable cross-attention.</summary>
    public MultiScaleDeformableAttention CrossAttention => cross_attn;

    /// <summary>Runs the layer.</summary>
    /// <param name="tgt">[DET] tokens [B, Q, d].</param>
    /// <param name="queryPos">Their position embedding [B, Q, d].</param>
    /// <param name="referencePoints">[B, Q, levels, 2 or 4], already scaled by the valid ratios.</param>
    /// <param name="src">Flattened memory [B, Σ H_l·W_l, d].</param>
    /// <param name="spatialShapes">(H_l, W_l) per level.</param>
    /// <param name="paddingMask">[B, Σ H_l·W_l], true on padding, or null.</param>
    public Tensor forward(Tensor tgt, Tensor queryPos, Tensor referencePoints, Tensor src,
        IReadOnlyList<(long Height, long Width)> spatialShapes, Tensor? paddingMask)
    {
        ArgumentNullException.ThrowIfNull(tgt);
        ArgumentNullException.ThrowIfNull(queryPos);
        using var scope = NewDisposeScope();
        var q = tgt + queryPos;
        tgt = norm2.forward(tgt + dropout2.forward(self_attn.forward(q, q, tgt)));
        var attended = cross_attn.forward(tgt + queryPos, referencePoints, src, spatialShapes, paddingMask);
        tgt = norm1.forward(tgt + dropout1.forward(attended));
        var ffn = linear2.forward(dropout3.forward(nn.functional.relu(linear1.forward(tgt))));
        return norm3.forward(tgt + dropout4.forward(ffn)).MoveToOuterDisposeScope();
    }
}
