namespace VkD.Training.Evaluation;

/// <summary>Classification metrics over a dataset (percentages, as timm's <c>accuracy</c> reports them).</summary>
/// <param name="Acc1">Top-1 accuracy, %.</param>
/// <param name="Acc5">Top-5 accuracy, % (top-k with k = min(5, classes)).</param>
/// <param name="Loss">Mean cross-entropy.</param>
/// <param name="Count">Images evaluated.</param>
public sealed record EvalMetrics(double Acc1, double Acc5, double Loss, int Count);

/// <summary>One evaluation batch's exact hit counts and loss sum.</summary>
/// <param name="Correct1">Images whose top-1 class is the label.</param>
/// <param name="Correct5">Images with the label among the top-k (k = min(5, classes)).</param>
/// <param name="LossSum">Summed cross-entropy of the batch (float32 sum, as float64).</param>
/// <param name="Count">Images in the batch.</param>
public sealed record EvalBatch(long Correct1, long Correct5, double LossSum, int Count)
{
    /// <summary>The metrics of <paramref name="batches"/>, totalled in their order (the loss sum is order-dependent,
    /// so the same batches in the same order give bit-identical metrics).</summary>
    /// <exception cref="InvalidOperationException">No images.</exception>
    public static EvalMetrics Total(IEnumerable<EvalBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        long correct1 = 0, correct5 = 0;
        double lossSum = 0;
        var count = 0;
        foreach (var b in batches)
        {
            correct1 += b.Correct1;
            correct5 += b.Correct5;
            lossSum += b.LossSum;
            count += b.Count;
        }
        if (count == 0)
        {
            throw new InvalidOperationException("The evaluation set is empty.");
        }
        return new EvalMetrics(100.0 * correct1 / count, 100.0 * correct5 / count, lossSum / count, count);
    }
}
