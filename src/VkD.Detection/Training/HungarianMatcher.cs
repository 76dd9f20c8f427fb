using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>
/// ViDT's <c>HungarianMatcher</c> (<c>methods/vidt/matcher.py</c>): a one-to-one matching of each image's queries to
/// its ground-truth objects that minimises <c>w_box·L1(cxcywh) + w_class·focal_cost + w_giou·(−GIoU)</c>, solved
/// exactly per image on the CPU by <see cref="LinearSumAssignment"/> (scipy's <c>linear_sum_assignment</c> in ViDT).
/// The focal class cost, at the object's class, is
/// <c>α(1−p)^γ(−log(p + 1e−8)) − (1−α)p^γ(−log(1 − p + 1e−8))</c> with <c>p = sigmoid(logit)</c>. No gradient
/// flows through the matching.
/// </summary>
public sealed class HungarianMatcher
{
    /// <summary>Creates the matcher with ViDT's defaults (<c>set_cost_class</c> 2, <c>set_cost_bbox</c> 5,
    /// <c>set_cost_giou</c> 2; α 0.25 and γ 2, fixed in ViDT's matcher).</summary>
    /// <exception cref="ArgumentException">A weight is negative or not finite, or all three are 0 (ViDT asserts the same).</exception>
    public HungarianMatcher(double classWeight = 2.0, double boxL1Weight = 5.0, double giouWeight = 2.0,
        double focalAlpha = 0.25, double focalGamma = 2.0)
    {
        foreach (var (name, w) in new[] { ("class", classWeight), ("L1 box", boxL1Weight), ("GIoU", giouWeight) })
        {
            if (!(w >= 0) || double.IsInfinity(w))
            {
                throw new ArgumentException($"The matcher's {name} cost weight must be finite and >= 0, got {w}.");
            }
        }
        if (classWeight == 0 && boxL1Weight == 0 && giouWeight == 0)
        {
            throw new ArgumentException("The matcher's class, L1 box and GIoU cost weights cannot all be 0.");
        }
        ClassWeight = classWeight;
        BoxL1Weight = boxL1Weight;
        GiouWeight = giouWeight;
        FocalAlpha = focalAlpha;
        FocalGamma = focalGamma;
    }

    /// <summary>Weight of the focal class cost (<c>set_cost_class</c>).</summary>
    public double ClassWeight { get; }

    /// <summary>Weight of the L1 cost on (cx, cy, w, h) (<c>set_cost_bbox</c>).</summary>
    public double BoxL1Weight { get; }

    /// <summary>Weight of the −GIoU cost (<c>set_cost_giou</c>).</summary>
    public double GiouWeight { get; }

    /// <summary>Focal α of the class cost.</summary>
    public double FocalAlpha { get; }

    /// <summary>Focal γ of the class cost.</summary>
    public double FocalGamma { get; }

    /// <summary>The cost matrix [Q, N] of one image (on the predictions' device, no graph).</summary>
    /// <param name="logits">Class logits [Q, classes].</param>
    /// <param name="boxes">Predicted normalised (cx, cy, w, h) [Q, 4].</param>
    /// <param name="target">The image's ground truth.</param>
    /// <exception cref="ArgumentException">Shapes disagree or a label is outside [0, classes).</exception>
    public Tensor Cost(Tensor logits, Tensor boxes, BoxTargets target)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(target);
        if (logits.ndim != 2 || boxes.ndim != 2 || boxes.shape[1] != 4 || boxes.shape[0] != logits.shape[0])
        {
            throw new ArgumentException(
                $"The matcher takes one image's logits [Q, classes] and boxes [Q, 4], got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", boxes.shape)}].");
        }
        RequireLabelsBelow(target.Labels, logits.shape[1]);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var prob = logits.sigmoid();
        var neg = (1 - FocalAlpha) * prob.pow(FocalGamma) * -((1 - prob) + 1e-8).log();
        var pos = FocalAlpha * (1 - prob).pow(FocalGamma) * -(prob + 1e-8).log();
        var ids = target.Labels.to(logits.device);
        var costClass = pos.index_select(1, ids) - neg.index_select(1, ids);
        var targetBoxes = target.Boxes.to(boxes.dtype, boxes.device);
        var costBox = cdist(boxes, targetBoxes, 1.0);
        var costGiou = -BoxGeometry.GeneralizedIou(BoxGeometry.CxcywhToXyxy(boxes), BoxGeometry.CxcywhToXyxy(targetBoxes));
        var cost = (BoxL1Weight * costBox) + (ClassWeight * costClass) + (GiouWeight * costGiou);
        return cost.MoveToOuterDisposeScope();
    }

    /// <summary>Matches every image of a batch (ViDT's <c>forward</c>).</summary>
    /// <param name="logits">Class logits [B, Q, classes].</param>
    /// <param name="boxes">Predicted normalised (cx, cy, w, h) [B, Q, 4].</param>
    /// <param name="targets">One entry per image.</param>
    /// <returns>Per image, min(Q, N) pairs with the queries ascending.</returns>
    /// <exception cref="ArgumentException">Shapes or counts disagree, a label is out of range, or a cost is NaN
    /// (the message names the image).</exception>
    public IReadOnlyList<MatchIndices> Match(Tensor logits, Tensor boxes, IReadOnlyList<BoxTargets> targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.ndim != 3 || boxes.ndim != 3 || boxes.shape[2] != 4 || boxes.shape[0] != logits.shape[0] || boxes.shape[1] != logits.shape[1])
        {
            throw new ArgumentException(
                $"The matcher takes logits [B, Q, classes] and boxes [B, Q, 4], got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", boxes.shape)}].");
        }
        if (targets.Count != logits.shape[0])
        {
            throw new ArgumentException($"The batch has {logits.shape[0]} images but {targets.Count} targets.", nameof(targets));
        }
        var result = new MatchIndices[targets.Count];
        for (var b = 0; b < targets.Count; b++)
        {
            var target = targets[b];
            if (target.Count == 0)
            {
                result[b] = new MatchIndices([], []);
                continue;
            }
            using var scope = NewDisposeScope();
            var queries = (int)logits.shape[1];
            var objects = (int)target.Count;
            double[] cost;
            try
            {
                cost = Cost(logits[b], boxes[b], target).to(float64).cpu().contiguous().data<double>().ToArray();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Matching image {b} of the batch: {e.Message}", e);
            }
            Assignment assignment;
            try
            {
                assignment = LinearSumAssignment.Solve(cost, queries, objects);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Matching image {b} of the batch: the predictions give a cost that is not a number ({e.Message})", e);
            }
            result[b] = new MatchIndices(
                assignment.RowIndices.Select(i => (long)i).ToArray(), assignment.ColumnIndices.Select(j => (long)j).ToArray());
        }
        return result;
    }

    private static void RequireLabelsBelow(Tensor labels, long classes)
    {
        if (labels.shape[0] == 0)
        {
            return;
        }
        var min = labels.min().item<long>();
        var max = labels.max().item<long>();
        if (min < 0 || max >= classes)
        {
            throw new ArgumentException(
                $"Target labels must lie in [0, {classes}) for {classes} class logits, got labels from {min} to {max}.");
        }
    }
}
