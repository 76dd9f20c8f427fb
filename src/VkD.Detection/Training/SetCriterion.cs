using VkD.Detection.Models;
using VkD.Distillation.Distiller;
using VkD.Training.Distributed;
using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>ViDT's loss coefficients (<c>--cls_loss_coef</c>, <c>--bbox_loss_coef</c>, <c>--giou_loss_coef</c>),
/// applied to the final prediction and, with the same values, to every auxiliary one (ViDT's weight dict).</summary>
/// <param name="Class">Weight of the focal class loss <c>loss_ce</c>.</param>
/// <param name="BoxL1">Weight of the L1 box loss <c>loss_bbox</c>.</param>
/// <param name="Giou">Weight of the GIoU loss <c>loss_giou</c>.</param>
public sealed record SetLossWeights(double Class = 2.0, double BoxL1 = 5.0, double Giou = 2.0);

/// <summary>What <see cref="SetCriterion.Compute(Tensor, Tensor, IReadOnlyList{BoxTargets})"/> returns. Owns its loss
/// tensors: dispose it, or hand <see cref="Losses"/> on (then dispose that).</summary>
public sealed class SetCriterionResult : IDisposable
{
    internal SetCriterionResult(LossTerms losses, IReadOnlyDictionary<string, double> logged,
        IReadOnlyList<IReadOnlyList<MatchIndices>> matches, double boxCount)
    {
        Losses = losses;
        Logged = logged;
        Matches = matches;
        BoxCount = boxCount;
    }

    /// <summary>The weighted losses, named as ViDT's loss dict (<c>loss_ce</c>, <c>loss_bbox</c>, <c>loss_giou</c>,
    /// then <c>loss_ce_0</c> ... <c>loss_giou_{P−2}</c> for the auxiliary predictions), and their sum in that order,
    /// which is ViDT's training loss without distillation.</summary>
    public LossTerms Losses { get; }

    /// <summary>The no-gradient statistics ViDT logs: <c>class_error</c> (final prediction, in percent),
    /// <c>cardinality_error</c> and <c>cardinality_error_{i}</c>.</summary>
    public IReadOnlyDictionary<string, double> Logged { get; }

    /// <summary>The matching of each prediction set, indexed as the stacked input (auxiliary ones first, final last).</summary>
    public IReadOnlyList<IReadOnlyList<MatchIndices>> Matches { get; }

    /// <summary>The divisor <c>num_boxes</c> every loss used: the ground-truth count averaged over processes, at least 1.</summary>
    public double BoxCount { get; }

    /// <inheritdoc />
    public void Dispose() => Losses.Dispose();
}

/// <summary>
/// ViDT's <c>SetCriterion</c> (<c>methods/vidt/criterion.py</c>, losses <c>labels</c>, <c>boxes</c>,
/// <c>cardinality</c>) for a detector with auxiliary outputs: each prediction set (final and auxiliary) is matched
/// on its own by the <see cref="HungarianMatcher"/>, then gets
/// <list type="bullet">
/// <item><c>loss_ce</c>: sigmoid focal loss on one-hot targets over the class logits, ViDT's layout: the one-hot has
/// an extra no-object column (index <c>num_classes</c>, the target of unmatched queries) that is dropped, so unmatched
/// queries are all-negative; <c>.mean(1).sum() / num_boxes · Q</c>;</item>
/// <item><c>loss_bbox</c>: Σ L1 over matched (cx, cy, w, h) / num_boxes;</item>
/// <item><c>loss_giou</c>: Σ (1 − GIoU) over matched boxes / num_boxes;</item>
/// </list>
/// with <c>num_boxes</c> the number of ground-truth boxes in the batch, averaged over processes by
/// <see cref="IGradientSync.AllReduceMean"/> (ViDT's all-reduce / world size) and clamped at 1. Class error and
/// cardinality error are logged without gradient.
/// </summary>
public sealed class SetCriterion
{
    /// <summary>Creates the criterion with ViDT's settings by default.</summary>
    /// <param name="matcher">The matcher (null: ViDT's 2/5/2).</param>
    /// <param name="weights">Loss coefficients (null: ViDT's 2/5/2).</param>
    /// <param name="numClasses">Width of the class logits, which is also the no-object index (ViDT's COCO: 91).</param>
    /// <param name="focalAlpha">Focal α (<c>--focal_alpha</c>).</param>
    /// <param name="focalGamma">Focal γ (2 in ViDT).</param>
    /// <param name="boxCountSync">Averages the box count over processes (null: one process).</param>
    public SetCriterion(HungarianMatcher? matcher = null, SetLossWeights? weights = null, int numClasses = 91,
        double focalAlpha = 0.25, double focalGamma = 2.0, IGradientSync? boxCountSync = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        Matcher = matcher ?? new HungarianMatcher();
        Weights = weights ?? new SetLossWeights();
        NumClasses = numClasses;
        FocalAlpha = focalAlpha;
        FocalGamma = focalGamma;
        BoxCountSync = boxCountSync ?? SingleProcessGradientSync.Instance;
    }

    /// <summary>The matcher.</summary>
    public HungarianMatcher Matcher { get; }

    /// <summary>The loss coefficients.</summary>
    public SetLossWeights Weights { get; }

    /// <summary>Class-logit width and no-object index.</summary>
    public int NumClasses { get; }

    /// <summary>Focal α.</summary>
    public double FocalAlpha { get; }

    /// <summary>Focal γ.</summary>
    public double FocalGamma { get; }

    /// <summary>Where the box count is averaged over processes.</summary>
    public IGradientSync BoxCountSync { get; }

    /// <summary>The loss names for <paramref name="predictionSets"/> prediction sets (final + auxiliary), in sum order.</summary>
    public static IReadOnlyList<string> TermNames(int predictionSets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(predictionSets, 1);
        return [.. Suffixes(predictionSets).SelectMany(s => new[] { "loss_ce" + s, "loss_bbox" + s, "loss_giou" + s })];
    }

    /// <summary>The logged statistic names for <paramref name="predictionSets"/> prediction sets.</summary>
    public static IReadOnlyList<string> LoggedNames(int predictionSets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(predictionSets, 1);
        return ["class_error", .. Suffixes(predictionSets).Select(s => "cardinality_error" + s)];
    }

    private static IEnumerable<string> Suffixes(int predictionSets) =>
        new[] { string.Empty }.Concat(Enumerable.Range(0, predictionSets - 1).Select(i => $"_{i}"));

    /// <summary>The divisor <c>num_boxes</c> for <paramref name="targets"/>: their box count averaged over processes, at least 1.</summary>
    public double BoxCount(IReadOnlyList<BoxTargets> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var local = targets.Sum(t => (double)t.Count);
        // ViDT clamps after the float32 all-reduce; the count is an exact integer below 2^24 either way.
        return Math.Max(BoxCountSync.AllReduceMean(local), 1.0);
    }

    /// <summary>The losses of a ViDT detector's outputs: every prediction set with <paramref name="auxLoss"/>
    /// (<c>--aux_loss</c>), the final one only otherwise.</summary>
    public SetCriterionResult Compute(VidtOutputs outputs, IReadOnlyList<BoxTargets> targets, bool auxLoss = true)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        return auxLoss ? Compute(outputs.Logits, outputs.Boxes, targets) : Compute(outputs.PredLogits, outputs.PredBoxes, targets);
    }

    /// <summary>The losses of stacked predictions.</summary>
    /// <param name="logits">Class logits [P, B, Q, classes] (auxiliary sets first, final last) or [B, Q, classes].</param>
    /// <param name="boxes">Normalised (cx, cy, w, h) boxes [P, B, Q, 4] or [B, Q, 4].</param>
    /// <param name="targets">One entry per image.</param>
    /// <exception cref="ArgumentException">Shapes, the class count or the number of targets disagree.</exception>
    public SetCriterionResult Compute(Tensor logits, Tensor boxes, IReadOnlyList<BoxTargets> targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(targets);
        var stacked = logits.ndim == 4;
        if ((logits.ndim != 3 && !stacked) || boxes.ndim != logits.ndim || boxes.shape[^1] != 4
            || !boxes.shape[..^1].SequenceEqual(logits.shape[..^1]))
        {
            throw new ArgumentException(
                $"The criterion takes logits [P, B, Q, classes] and boxes [P, B, Q, 4] (or without P), got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", boxes.shape)}].");
        }
        if (logits.shape[^1] != NumClasses)
        {
            throw new ArgumentException($"The criterion was built for {NumClasses} classes but the logits have {logits.shape[^1]}.", nameof(logits));
        }
        if (targets.Count != logits.shape[^3])
        {
            throw new ArgumentException($"The batch has {logits.shape[^3]} images but {targets.Count} targets.", nameof(targets));
        }
        var sets = stacked ? (int)logits.shape[0] : 1;
        var numBoxes = BoxCount(targets);
        var terms = new List<(string, Tensor)>(3 * sets);
        var logged = new Dictionary<string, double>(StringComparer.Ordinal);
        var matches = new IReadOnlyList<MatchIndices>[sets];
        using var scope = NewDisposeScope();
        var names = TermNames(sets);
        var cardinalityNames = LoggedNames(sets);
        // ViDT's order: the final prediction, then the auxiliary ones from the first decoder output on.
        var order = new[] { sets - 1 }.Concat(Enumerable.Range(0, sets - 1)).ToArray();
        for (var k = 0; k < order.Length; k++)
        {
            var p = order[k];
            var setLogits = stacked ? logits[p] : logits;
            var setBoxes = stacked ? boxes[p] : boxes;
            var match = Matcher.Match(setLogits.detach(), setBoxes.detach(), targets);
            matches[p] = match;
            var (flat, labels, targetBoxes) = Gather(match, targets, setLogits.shape[1], setLogits.device, setBoxes.dtype);
            var ce = LabelLoss(setLogits, flat, labels, numBoxes);
            var matchedBoxes = setBoxes.reshape(-1, 4).index_select(0, flat);
            var l1 = DetectionLosses.BoxL1(matchedBoxes, targetBoxes, numBoxes);
            var giou = DetectionLosses.GeneralizedIouLoss(matchedBoxes, targetBoxes, numBoxes);
            terms.Add((names[3 * k], Weights.Class * ce));
            terms.Add((names[(3 * k) + 1], Weights.BoxL1 * l1));
            terms.Add((names[(3 * k) + 2], Weights.Giou * giou));
            if (k == 0)
            {
                logged["class_error"] = ClassError(setLogits, flat, labels);
            }
            logged[cardinalityNames[k + 1]] = CardinalityError(setLogits, targets);
        }
        Tensor? total = null;
        foreach (var (_, value) in terms)
        {
            total = total is null ? value : total + value;
        }
        var kept = terms.Select(t => (t.Item1, t.Item2.MoveToOuterDisposeScope())).ToList();
        var losses = new LossTerms(kept, total!.MoveToOuterDisposeScope());
        return new SetCriterionResult(losses, logged, matches, numBoxes);
    }

    /// <summary>Flat query indices b·Q + q of the matched predictions, their target labels and boxes, in ViDT's order
    /// (image by image, queries ascending).</summary>
    private static (Tensor Flat, Tensor Labels, Tensor Boxes) Gather(IReadOnlyList<MatchIndices> match, IReadOnlyList<BoxTargets> targets,
        long queries, Device device, ScalarType boxType)
    {
        var flat = match.SelectMany((m, b) => m.Predictions.Select(q => (b * queries) + q)).ToArray();
        var labels = new List<Tensor>(targets.Count);
        var boxes = new List<Tensor>(targets.Count);
        for (var b = 0; b < targets.Count; b++)
        {
            var j = tensor(match[b].Targets, ScalarType.Int64, targets[b].Labels.device);
            labels.Add(targets[b].Labels.index_select(0, j).to(device));
            boxes.Add(targets[b].Boxes.index_select(0, j.to(targets[b].Boxes.device)).to(boxType, device));
        }
        return (tensor(flat, ScalarType.Int64, device), cat(labels, 0), cat(boxes, 0));
    }

    private Tensor LabelLoss(Tensor logits, Tensor flat, Tensor labels, double numBoxes)
    {
        var (images, queries) = (logits.shape[0], logits.shape[1]);
        var classes = zeros([images * queries], ScalarType.Int64, logits.device).fill_(NumClasses);
        classes.index_put_(labels, flat);
        var oneHot = zeros([images, queries, NumClasses + 1], logits.dtype, logits.device);
        var index = classes.view(images, queries, 1);
        oneHot.scatter_(2, index, ones_like(index, dtype: logits.dtype));
        var targets = oneHot[.., .., ..NumClasses];
        return DetectionLosses.SigmoidFocalLoss(logits, targets, numBoxes, FocalAlpha, FocalGamma) * queries;
    }

    /// <summary>100 − top-1 accuracy (percent) of the matched predictions; 100 with none, as ViDT's <c>accuracy</c>.</summary>
    private static double ClassError(Tensor logits, Tensor flat, Tensor labels)
    {
        using var noGrad = no_grad();
        var matched = flat.shape[0];
        if (matched == 0)
        {
            return 100.0;
        }
        var predicted = logits.reshape(-1, logits.shape[^1]).index_select(0, flat).topk(1, 1, true, true).indexes;
        var correct = predicted.t().eq(labels.view(1, -1)).to(ScalarType.Float32).sum();
        return (100 - (correct * (100.0 / matched))).to(float64).item<double>();
    }

    /// <summary>Mean absolute difference between each image's object count and its predictions whose arg-max class is
    /// not the last one (DETR's no-object rule, which ViDT keeps although its last class is a real category).</summary>
    private static double CardinalityError(Tensor logits, IReadOnlyList<BoxTargets> targets)
    {
        using var noGrad = no_grad();
        var lengths = tensor(targets.Select(t => (float)t.Count).ToArray(), ScalarType.Float32, logits.device);
        var predicted = logits.argmax(-1).ne(logits.shape[^1] - 1).sum(1).to(ScalarType.Float32);
        return nn.functional.l1_loss(predicted, lengths).to(float64).item<double>();
    }
}
