using VkD.Detection.Data;
using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>
/// The ground truth of one image as the matcher and the set criterion read it (DETR's target dict):
/// <c>labels</c> int64 [N] (ViDT: raw COCO category ids, below the model's class count) and <c>boxes</c> [N, 4],
/// normalised (cx, cy, w, h). Does not own its tensors.
/// </summary>
public sealed record BoxTargets
{
    /// <summary>Wraps <paramref name="labels"/> [N] and <paramref name="boxes"/> [N, 4].</summary>
    /// <exception cref="ArgumentException">The shapes or the label type do not fit.</exception>
    public BoxTargets(Tensor labels, Tensor boxes)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(boxes);
        if (labels.ndim != 1 || labels.dtype != ScalarType.Int64)
        {
            throw new ArgumentException($"Target labels must be int64 [N], got {labels.dtype} [{string.Join(", ", labels.shape)}].", nameof(labels));
        }
        if (boxes.ndim != 2 || boxes.shape[1] != 4 || boxes.shape[0] != labels.shape[0])
        {
            throw new ArgumentException(
                $"Target boxes must be [N, 4] with N = {labels.shape[0]} labels, got [{string.Join(", ", boxes.shape)}].", nameof(boxes));
        }
        Labels = labels;
        Boxes = boxes;
    }

    /// <summary>Category ids, int64 [N].</summary>
    public Tensor Labels { get; }

    /// <summary>Normalised (cx, cy, w, h) boxes [N, 4].</summary>
    public Tensor Boxes { get; }

    /// <summary>Number of objects N.</summary>
    public long Count => Labels.shape[0];

    /// <summary>The targets of a loaded example (its <see cref="DetectionExample.Labels"/> and normalised
    /// <see cref="DetectionExample.Boxes"/>, not copied).</summary>
    public static BoxTargets FromExample(DetectionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        return new BoxTargets(example.Labels, example.Boxes);
    }

    /// <summary>The targets of every image of a padded batch, in batch order.</summary>
    public static IReadOnlyList<BoxTargets> FromBatch(DetectionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return [.. batch.Examples.Select(FromExample)];
    }
}

/// <summary>One image's matching: prediction <c>Predictions[k]</c> is matched to target <c>Targets[k]</c>;
/// predictions ascending, as ViDT's matcher returns scipy's row indices.</summary>
/// <param name="Predictions">Matched query indices, ascending.</param>
/// <param name="Targets">The target matched to each.</param>
public sealed record MatchIndices(long[] Predictions, long[] Targets)
{
    /// <summary>Number of matched pairs, min(queries, targets).</summary>
    public int Count => Predictions.Length;
}
