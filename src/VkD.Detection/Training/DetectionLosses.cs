using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>The per-element losses of ViDT's set criterion, as differentiable TorchSharp ops.</summary>
public static class DetectionLosses
{
    /// <summary>
    /// RetinaNet's sigmoid focal loss as ViDT's <c>sigmoid_focal_loss</c> (<c>methods/segmentation.py</c>) reduces it:
    /// <c>α_t (1 − p_t)^γ BCE(x, t)</c> per element, then <c>.mean(1).sum() / numBoxes</c>. On [B, Q, C] inputs the mean
    /// runs over the queries, which is why the criterion multiplies by Q afterwards.
    /// </summary>
    /// <param name="inputs">Logits of any shape with at least two dimensions.</param>
    /// <param name="targets">Binary targets of the same shape (a one-hot encoding).</param>
    /// <param name="numBoxes">The divisor (the number of ground-truth boxes).</param>
    /// <param name="alpha">Weight of the positives; a negative value turns the weighting off, as in ViDT.</param>
    /// <param name="gamma">Focusing exponent.</param>
    public static Tensor SigmoidFocalLoss(Tensor inputs, Tensor targets, double numBoxes, double alpha = 0.25, double gamma = 2.0)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (!inputs.shape.SequenceEqual(targets.shape) || inputs.ndim < 2)
        {
            throw new ArgumentException(
                $"Focal loss needs logits and targets of one shape with at least 2 dimensions, got [{string.Join(", ", inputs.shape)}] and [{string.Join(", ", targets.shape)}].");
        }
        using var scope = NewDisposeScope();
        var prob = inputs.sigmoid();
        var ce = nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction: nn.Reduction.None);
        var pT = (prob * targets) + ((1 - prob) * (1 - targets));
        var loss = ce * (1 - pT).pow(gamma);
        if (alpha >= 0)
        {
            var alphaT = (alpha * targets) + ((1 - alpha) * (1 - targets));
            loss = alphaT * loss;
        }
        return (loss.mean([1]).sum() / numBoxes).MoveToOuterDisposeScope();
    }

    /// <summary>Σ |predicted − target| over matched (cx, cy, w, h) pairs [M, 4], divided by <paramref name="numBoxes"/>
    /// (ViDT's <c>loss_bbox</c>).</summary>
    public static Tensor BoxL1(Tensor predicted, Tensor target, double numBoxes)
    {
        RequirePairs(predicted, target);
        using var scope = NewDisposeScope();
        return (nn.functional.l1_loss(predicted, target, nn.Reduction.None).sum() / numBoxes).MoveToOuterDisposeScope();
    }

    /// <summary>Σ (1 − GIoU) over matched (cx, cy, w, h) pairs [M, 4], divided by <paramref name="numBoxes"/> (ViDT's
    /// <c>loss_giou</c>: the diagonal of the pairwise GIoU of the xyxy boxes).</summary>
    public static Tensor GeneralizedIouLoss(Tensor predicted, Tensor target, double numBoxes)
    {
        RequirePairs(predicted, target);
        using var scope = NewDisposeScope();
        var giou = BoxGeometry.GeneralizedIou(BoxGeometry.CxcywhToXyxy(predicted), BoxGeometry.CxcywhToXyxy(target));
        return ((1 - giou.diag()).sum() / numBoxes).MoveToOuterDisposeScope();
    }

    private static void RequirePairs(Tensor predicted, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(target);
        if (predicted.ndim != 2 || predicted.shape[1] != 4 || !predicted.shape.SequenceEqual(target.shape))
        {
            throw new ArgumentException(
                $"Box losses take matched pairs [M, 4] and [M, 4], got [{string.Join(", ", predicted.shape)}] and [{string.Join(", ", target.shape)}].");
        }
    }
}
