using TorchSharp;
using VkD.Models;
using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Training.Evaluation;

/// <summary>Per-image result of an evaluation, for <c>--predictions</c>.</summary>
/// <param name="Index">Dataset index.</param>
/// <param name="Label">True class.</param>
/// <param name="Top5">The top-k predicted classes, best first (k = min(5, classes)).</param>
public sealed record Prediction(int Index, int Label, int[] Top5);

/// <summary>
/// Top-1/top-5 accuracy and cross-entropy of a classifier over a batch source, in eval mode without autograd.
/// For a two-head (DeiT-distilled) student the output is the average of the class and distillation heads, as the
/// reference's eval-mode forward.
/// </summary>
public static class Evaluator
{
    /// <summary>Logits used for evaluation: the average of both heads when the model has two.</summary>
    public static Tensor EvalLogits(ClassifierModel model, Tensor images)
    {
        using var scope = NewDisposeScope();
        var outputs = model.ForwardForDistillation(images);
        var logits = outputs.DistillationLogits is null ? outputs.Logits : (outputs.Logits + outputs.DistillationLogits) / 2;
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Evaluates <paramref name="model"/> on every batch of <paramref name="source"/> (epoch 0 order).</summary>
    /// <param name="model">The classifier; left in eval mode.</param>
    /// <param name="source">Evaluation batches.</param>
    /// <param name="onPrediction">Receives each image's prediction when not null.</param>
    /// <param name="onBatch">Called after each batch with the number of images done (progress).</param>
    public static EvalMetrics Evaluate(ClassifierModel model, IBatchSource source, Action<Prediction>? onPrediction = null, Action<int>? onBatch = null) =>
        EvalBatch.Total(EvaluateBatches(model, source, onPrediction, onBatch));

    /// <summary>The hit counts and loss sum of each batch of <paramref name="source"/>, in order (what
    /// <see cref="Evaluate"/> totals; a rank of a sharded evaluation sends them to be totalled in the single
    /// process's order).</summary>
    /// <inheritdoc cref="Evaluate" path="/param"/>
    public static List<EvalBatch> EvaluateBatches(ClassifierModel model, IBatchSource source, Action<Prediction>? onPrediction = null, Action<int>? onBatch = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        model.eval();
        using var _ = no_grad();
        var batches = new List<EvalBatch>();
        var count = 0;
        foreach (var batch in source.GetEpoch(0))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var logits = EvalLogits(model, batch.Images);
                var n = (int)batch.Labels.shape[0];
                var k = (int)Math.Min(5, logits.shape[1]);
                var loss = nn.functional.cross_entropy(logits, batch.Labels, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
                var top = logits.topk(k, dim: 1).indexes;
                var hits = top.eq(batch.Labels.unsqueeze(1));
                batches.Add(new EvalBatch(hits.narrow(1, 0, 1).sum().item<long>(), hits.sum().item<long>(), loss, n));
                if (onPrediction is not null)
                {
                    var topData = top.to_type(ScalarType.Int64).data<long>().ToArray();
                    var labels = batch.Labels.data<long>().ToArray();
                    for (var i = 0; i < n; i++)
                    {
                        onPrediction(new Prediction(batch.Indices[i], (int)labels[i], topData.Skip(i * k).Take(k).Select(v => (int)v).ToArray()));
                    }
                }
                count += n;
                onBatch?.Invoke(count);
            }
        }
        return batches;
    }
}
