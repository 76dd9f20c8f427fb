namespace VkD.Training.Evaluation;

/// <summary>Classification metrics over a dataset (percentages, as timm's <c>accuracy</c> reports them).</summary>
/// <param name="Acc1">Top-1 accuracy, %.</param>
/// <param name="Acc5">Top-5 accuracy, % (top-k with k = min(5, classes)).</param>
/// <param name="Loss">Mean cross-entropy.</param>
/// <param name="Count">Images evaluated.</param>
public sealed record EvalMetrics(double Acc1, double Acc5, double Loss, int Count);
