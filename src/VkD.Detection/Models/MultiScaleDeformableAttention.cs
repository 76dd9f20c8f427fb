using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Detection.Models;

/// <summary>
/// Deformable DETR's multi-scale deformable attention as ViDT uses it (<c>ops/modules/ms_deform_attn.py</c>,
/// <c>MSDeformAttn</c>): each query samples <c>n_points</c> locations per head and feature level around its reference
/// point, bilinearly, and sums them with softmaxed weights. Keys <c>sampling_offsets.*</c>, <c>attention_weights.*</c>,
/// <c>value_proj.*</c>, <c>output_proj.*</c>, as in ViDT, so its checkpoints map one-to-one.
/// </summary>
/// <remarks>
/// The sampling is <see cref="Core"/>, ViDT's pure-PyTorch <c>ms_deform_attn_core_pytorch</c> on
/// <c>grid_sample</c> (bilinear, zeros padding, <c>align_corners=False</c>), which equals the CUDA kernel's
/// <c>h_im = loc·H − 0.5</c> convention with zeros outside the map.
/// </remarks>
public sealed class MultiScaleDeformableAttention : nn.Module
{
    private readonly Linear sampling_offsets;
    private readonly Linear attention_weights;
    private readonly Linear value_proj;
    private readonly Linear output_proj;

    /// <summary>Creates the module with ViDT's initialisation (<c>_reset_parameters</c>).</summary>
    /// <param name="dModel">Width of queries and values (256 in ViDT).</param>
    /// <param name="nLevels">Number of feature levels (4).</param>
    /// <param name="nHeads">Attention heads (8); must divide <paramref name="dModel"/>.</param>
    /// <param name="nPoints">Sampling points per head and level (4).</param>
    public MultiScaleDeformableAttention(int dModel = 256, int nLevels = 4, int nHeads = 8, int nPoints = 4)
        : base(nameof(MultiScaleDeformableAttention))
    {
        if (dModel <= 0 || nLevels <= 0 || nHeads <= 0 || nPoints <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(dModel),
                $"Deformable attention sizes must be positive, got d_model={dModel}, n_levels={nLevels}, n_heads={nHeads}, n_points={nPoints}.");
        }
        if (dModel % nHeads != 0)
        {
            throw new ArgumentException($"d_model must be divisible by n_heads, but got {dModel} and {nHeads}.", nameof(nHeads));
        }
        DModel = dModel;
        NLevels = nLevels;
        NHeads = nHeads;
        NPoints = nPoints;
        sampling_offsets = nn.Linear(dModel, nHeads * nLevels * nPoints * 2);
        attention_weights = nn.Linear(dModel, nHeads * nLevels * nPoints);
        value_proj = nn.Linear(dModel, dModel);
        output_proj = nn.Linear(dModel, dModel);
        register_module("sampling_offsets", sampling_offsets);
        register_module("attention_weights", attention_weights);
        register_module("value_proj", value_proj);
        register_module("output_proj", output_proj);
        ResetParameters();
    }

    /// <summary>Width of queries, values and output.</summary>
    public int DModel { get; }

    /// <summary>Number of feature levels.</summary>
    public int NLevels { get; }

    /// <summary>Number of heads.</summary>
    public int NHeads { get; }

    /// <summary>Sampling points per head and level.</summary>
    public int NPoints { get; }

    /// <summary>
    /// ViDT's <c>_reset_parameters</c>: offset weights 0 and the bias on a radial grid (head h points along angle
    /// 2πh/heads, scaled so the larger coordinate is 1, times the point index + 1); attention weights and bias 0;
    /// xavier-uniform value and output projections with zero biases.
    /// </summary>
    public void ResetParameters()
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        sampling_offsets.weight!.zero_();
        sampling_offsets.bias!.copy_(OffsetGrid(NHeads, NLevels, NPoints));
        attention_weights.weight!.zero_();
        attention_weights.bias!.zero_();
        nn.init.xavier_uniform_(value_proj.weight!);
        value_proj.bias!.zero_();
        nn.init.xavier_uniform_(output_proj.weight!);
        output_proj.bias!.zero_();
    }

    /// <summary>The initial sampling-offset bias, flattened as [heads, levels, points, 2] (x, y), computed in
    /// float32 exactly as ViDT does.</summary>
    public static Tensor OffsetGrid(int nHeads, int nLevels, int nPoints)
    {
        using var scope = NewDisposeScope();
        var thetas = torch.arange(nHeads, dtype: float32) * (2.0 * Math.PI / nHeads);
        var grid = torch.stack([thetas.cos(), thetas.sin()], -1);
        grid = (grid / grid.abs().max(-1, keepdim: true).values).view(nHeads, 1, 1, 2).repeat(1, nLevels, nPoints, 1);
        var scale = (torch.arange(nPoints, dtype: float32) + 1).view(1, 1, nPoints, 1);
        return (grid * scale).reshape(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Attends from <paramref name="query"/> to the flattened multi-scale <paramref name="inputFlatten"/>.
    /// </summary>
    /// <param name="query">[N, Lq, d_model].</param>
    /// <param name="referencePoints">[N, Lq, n_levels, 2] normalised (x, y) in [0, 1] (top-left 0, bottom-right 1,
    /// padding included), or [N, Lq, n_levels, 4] reference boxes (cx, cy, w, h): locations are then
    /// <c>xy + offset / n_points · wh · 0.5</c> instead of <c>xy + offset / (W_l, H_l)</c>.</param>
    /// <param name="inputFlatten">[N, Σ H_l·W_l, d_model], levels in order, each row-major.</param>
    /// <param name="spatialShapes">(H_l, W_l) of each level.</param>
    /// <param name="paddingMask">[N, Σ H_l·W_l], true on padding (its values are zeroed), or null.</param>
    /// <returns>[N, Lq, d_model].</returns>
    public Tensor forward(Tensor query, Tensor referencePoints, Tensor inputFlatten,
        IReadOnlyList<(long Height, long Width)> spatialShapes, Tensor? paddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(referencePoints);
        ArgumentNullException.ThrowIfNull(inputFlatten);
        ArgumentNullException.ThrowIfNull(spatialShapes);
        CheckInputs(query, referencePoints, inputFlatten, spatialShapes, paddingMask);
        using var scope = NewDisposeScope();
        var n = inputFlatten.shape[0];
        var lenIn = inputFlatten.shape[1];
        var value = value_proj.forward(inputFlatten);
        if (paddingMask is not null)
        {
            value = value.masked_fill(paddingMask.unsqueeze(-1), 0.0);
        }
        value = value.view(n, lenIn, NHeads, DModel / NHeads);
        var (locations, weights) = SamplingLocations(query, referencePoints, spatialShapes);
        var output = Core(value, spatialShapes, locations, weights);
        return output_proj.forward(output).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The sampling locations [N, Lq, heads, levels, points, 2] and softmaxed weights [N, Lq, heads, levels, points]
    /// of <paramref name="query"/> (the part of <c>MSDeformAttn.forward</c> before the sampling).
    /// </summary>
    public (Tensor Locations, Tensor Weights) SamplingLocations(Tensor query, Tensor referencePoints,
        IReadOnlyList<(long Height, long Width)> spatialShapes)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(referencePoints);
        ArgumentNullException.ThrowIfNull(spatialShapes);
        using var scope = NewDisposeScope();
        var n = query.shape[0];
        var lq = query.shape[1];
        var offsets = sampling_offsets.forward(query).view(n, lq, NHeads, NLevels, NPoints, 2);
        var weights = attention_weights.forward(query).view(n, lq, NHeads, NLevels * NPoints)
            .softmax(-1).view(n, lq, NHeads, NLevels, NPoints);
        Tensor locations;
        if (referencePoints.shape[^1] == 2)
        {
            var normalizer = torch.tensor(spatialShapes.SelectMany(s => new[] { (float)s.Width, (float)s.Height }).ToArray(),
                [spatialShapes.Count, 2], dtype: query.dtype, device: query.device);
            locations = referencePoints.unsqueeze(2).unsqueeze(4) + offsets / normalizer.view(1, 1, 1, NLevels, 1, 2);
        }
        else if (referencePoints.shape[^1] == 4)
        {
            var r = referencePoints.unsqueeze(2).unsqueeze(4);
            locations = r[.., .., .., .., .., ..2] + offsets / NPoints * r[.., .., .., .., .., 2..] * 0.5;
        }
        else
        {
            throw new ArgumentException(
                $"Last dim of reference_points must be 2 or 4, but got {referencePoints.shape[^1]} instead.", nameof(referencePoints));
        }
        return (locations.MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The sampling core (ViDT's <c>ms_deform_attn_core_pytorch</c>): bilinear samples of each head's values at the
    /// given locations (<c>grid_sample</c> on <c>2·loc − 1</c>, zeros outside, <c>align_corners=False</c>), weighted
    /// and summed over levels and points.
    /// </summary>
    /// <param name="value">[N, Σ H_l·W_l, heads, head_dim].</param>
    /// <param name="spatialShapes">(H_l, W_l) of each level.</param>
    /// <param name="samplingLocations">[N, Lq, heads, levels, points, 2], normalised (x, y).</param>
    /// <param name="attentionWeights">[N, Lq, heads, levels, points].</param>
    /// <returns>[N, Lq, heads·head_dim].</returns>
    public static Tensor Core(Tensor value, IReadOnlyList<(long Height, long Width)> spatialShapes, Tensor samplingLocations,
        Tensor attentionWeights)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(spatialShapes);
        ArgumentNullException.ThrowIfNull(samplingLocations);
        ArgumentNullException.ThrowIfNull(attentionWeights);
        if (value.ndim != 4 || samplingLocations.ndim != 6 || attentionWeights.ndim != 5)
        {
            throw new ArgumentException(
                $"Expected value [N, S, M, D], locations [N, Lq, M, L, P, 2] and weights [N, Lq, M, L, P], got " +
                $"[{string.Join(", ", value.shape)}], [{string.Join(", ", samplingLocations.shape)}], [{string.Join(", ", attentionWeights.shape)}].");
        }
        using var scope = NewDisposeScope();
        var n = value.shape[0];
        var m = value.shape[2];
        var d = value.shape[3];
        var lq = samplingLocations.shape[1];
        var levels = samplingLocations.shape[3];
        var points = samplingLocations.shape[4];
        if (levels != spatialShapes.Count)
        {
            throw new ArgumentException($"Locations have {levels} levels but {spatialShapes.Count} spatial shapes were given.", nameof(spatialShapes));
        }
        var perLevel = value.split(spatialShapes.Select(s => s.Height * s.Width).ToArray(), 1);
        var grids = samplingLocations * 2 - 1;
        var sampled = new Tensor[levels];
        for (var l = 0; l < levels; l++)
        {
            var (h, w) = spatialShapes[l];
            // [N, H·W, M, D] -> [N, M·D, H·W] -> [N·M, D, H, W]
            var v = perLevel[l].flatten(2).transpose(1, 2).reshape(n * m, d, h, w);
            // [N, Lq, M, P, 2] -> [N, M, Lq, P, 2] -> [N·M, Lq, P, 2]
            var g = grids.select(3, l).transpose(1, 2).flatten(0, 1);
            sampled[l] = nn.functional.grid_sample(v, g, GridSampleMode.Bilinear, GridSamplePaddingMode.Zeros, align_corners: false);
        }
        var weights = attentionWeights.transpose(1, 2).reshape(n * m, 1, lq, levels * points);
        var output = (torch.stack(sampled, -2).flatten(-2) * weights).sum(-1).view(n, m * d, lq);
        return output.transpose(1, 2).contiguous().MoveToOuterDisposeScope();
    }

    private void CheckInputs(Tensor query, Tensor referencePoints, Tensor inputFlatten,
        IReadOnlyList<(long Height, long Width)> spatialShapes, Tensor? paddingMask)
    {
        if (query.ndim != 3 || query.shape[2] != DModel || inputFlatten.ndim != 3 || inputFlatten.shape[2] != DModel)
        {
            throw new ArgumentException(
                $"{GetName()} expects query [N, Lq, {DModel}] and input [N, S, {DModel}], got [{string.Join(", ", query.shape)}] and [{string.Join(", ", inputFlatten.shape)}].");
        }
        if (spatialShapes.Count != NLevels)
        {
            throw new ArgumentException($"{GetName()} has {NLevels} levels but {spatialShapes.Count} spatial shapes were given.", nameof(spatialShapes));
        }
        var total = spatialShapes.Sum(s => s.Height * s.Width);
        if (total != inputFlatten.shape[1])
        {
            throw new ArgumentException($"The spatial shapes cover {total} positions but the input has {inputFlatten.shape[1]}.", nameof(spatialShapes));
        }
        if (referencePoints.ndim != 4 || referencePoints.shape[0] != query.shape[0] || referencePoints.shape[1] != query.shape[1]
            || referencePoints.shape[2] != NLevels)
        {
            throw new ArgumentException(
                $"reference_points must be [N, Lq, {NLevels}, 2 or 4], got [{string.Join(", ", referencePoints.shape)}].", nameof(referencePoints));
        }
        if (paddingMask is not null && (paddingMask.ndim != 2 || paddingMask.shape[0] != inputFlatten.shape[0] || paddingMask.shape[1] != total))
        {
            throw new ArgumentException($"The padding mask must be [N, {total}], got [{string.Join(", ", paddingMask.shape)}].", nameof(paddingMask));
        }
    }
}
