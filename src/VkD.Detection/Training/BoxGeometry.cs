using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>
/// DETR/ViDT's box utilities (<c>util/box_ops.py</c>) as differentiable TorchSharp ops: format conversions,
/// pairwise IoU with the union, and generalised IoU. Boxes are [..., 4]; pairwise ops take [N, 4] and [M, 4] and
/// return [N, M].
/// </summary>
public static class BoxGeometry
{
    /// <summary>(cx, cy, w, h) to (x0, y0, x1, y1): <c>box_cxcywh_to_xyxy</c>.</summary>
    public static Tensor CxcywhToXyxy(Tensor boxes)
    {
        RequireBoxes(boxes, nameof(boxes));
        using var scope = NewDisposeScope();
        var parts = boxes.unbind(-1);
        var (cx, cy, w, h) = (parts[0], parts[1], parts[2], parts[3]);
        return stack([cx - (0.5 * w), cy - (0.5 * h), cx + (0.5 * w), cy + (0.5 * h)], -1).MoveToOuterDisposeScope();
    }

    /// <summary>(x0, y0, x1, y1) to (cx, cy, w, h): <c>box_xyxy_to_cxcywh</c>.</summary>
    public static Tensor XyxyToCxcywh(Tensor boxes)
    {
        RequireBoxes(boxes, nameof(boxes));
        using var scope = NewDisposeScope();
        var parts = boxes.unbind(-1);
        var (x0, y0, x1, y1) = (parts[0], parts[1], parts[2], parts[3]);
        return stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1).MoveToOuterDisposeScope();
    }

    /// <summary>Areas of xyxy boxes [..., 4] (torchvision's <c>box_area</c>).</summary>
    public static Tensor Area(Tensor boxes)
    {
        RequireBoxes(boxes, nameof(boxes));
        using var scope = NewDisposeScope();
        return ((boxes.select(-1, 2) - boxes.select(-1, 0)) * (boxes.select(-1, 3) - boxes.select(-1, 1))).MoveToOuterDisposeScope();
    }

    /// <summary>Pairwise IoU [N, M] of xyxy boxes and the union areas it divided by (<c>box_iou</c>).</summary>
    public static (Tensor Iou, Tensor Union) Iou(Tensor boxes1, Tensor boxes2)
    {
        RequirePairwise(boxes1, nameof(boxes1));
        RequirePairwise(boxes2, nameof(boxes2));
        using var scope = NewDisposeScope();
        var area1 = Area(boxes1);
        var area2 = Area(boxes2);
        var lt = maximum(boxes1[.., TensorIndex.None, ..2], boxes2[.., ..2]);
        var rb = minimum(boxes1[.., TensorIndex.None, 2..], boxes2[.., 2..]);
        var wh = (rb - lt).clamp(min: 0);
        var inter = wh[.., .., 0] * wh[.., .., 1];
        var union = area1[.., TensorIndex.None] + area2 - inter;
        var iou = inter / union;
        return (iou.MoveToOuterDisposeScope(), union.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Pairwise generalised IoU [N, M] of xyxy boxes (<c>generalized_box_iou</c>): IoU minus the share of the
    /// smallest enclosing box that the union leaves empty.
    /// </summary>
    /// <exception cref="ArgumentException">A box has x1 &lt; x0 or y1 &lt; y0 (or NaN coordinates), which would make
    /// the result inf or NaN; ViDT asserts the same.</exception>
    public static Tensor GeneralizedIou(Tensor boxes1, Tensor boxes2)
    {
        RequirePairwise(boxes1, nameof(boxes1));
        RequirePairwise(boxes2, nameof(boxes2));
        RequireOrdered(boxes1, nameof(boxes1));
        RequireOrdered(boxes2, nameof(boxes2));
        using var scope = NewDisposeScope();
        var (iou, union) = Iou(boxes1, boxes2);
        var lt = minimum(boxes1[.., TensorIndex.None, ..2], boxes2[.., ..2]);
        var rb = maximum(boxes1[.., TensorIndex.None, 2..], boxes2[.., 2..]);
        var wh = (rb - lt).clamp(min: 0);
        var area = wh[.., .., 0] * wh[.., .., 1];
        return (iou - ((area - union) / area)).MoveToOuterDisposeScope();
    }

    private static void RequireBoxes(Tensor boxes, string name)
    {
        ArgumentNullException.ThrowIfNull(boxes, name);
        if (boxes.ndim < 1 || boxes.shape[^1] != 4)
        {
            throw new ArgumentException($"Boxes must be [..., 4], got [{string.Join(", ", boxes.shape)}].", name);
        }
    }

    private static void RequirePairwise(Tensor boxes, string name)
    {
        ArgumentNullException.ThrowIfNull(boxes, name);
        if (boxes.ndim != 2 || boxes.shape[1] != 4)
        {
            throw new ArgumentException($"Pairwise box ops take [N, 4] boxes, got [{string.Join(", ", boxes.shape)}].", name);
        }
    }

    private static void RequireOrdered(Tensor boxes, string name)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (boxes.shape[0] > 0 && !(boxes[.., 2..] >= boxes[.., ..2]).all().item<bool>())
        {
            throw new ArgumentException(
                $"Degenerate boxes in {name}: every xyxy box needs x1 >= x0 and y1 >= y0 (and no NaN); generalised IoU would be inf or NaN.", name);
        }
    }
}
