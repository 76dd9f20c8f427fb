using static TorchSharp.torch;

namespace VkD.Distillation.Losses;

/// <summary>The classification and logit-distillation terms, each matching its PyTorch/timm definition.</summary>
public static class ClassificationLosses
{
    /// <summary>
    /// Logit distillation <c>KLDivLoss(reduction='batchmean')(log_softmax(s/T), softmax(t/T)) * T^2</c>: the KL sum
    /// divided by the batch size (TorchSharp has no batchmean reduction).
    /// </summary>
    public static Tensor KlDistillation(Tensor studentLogits, Tensor teacherLogits, double temperature = 1.0)
    {
        if (!(temperature > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Temperature must be > 0.");
        }
        if (studentLogits.ndim != 2 || !studentLogits.shape.SequenceEqual(teacherLogits.shape))
        {
            throw new ArgumentException(
                $"KL distillation needs logits [B, C] of equal shape: student [{string.Join(", ", studentLogits.shape)}] " +
                $"vs teacher [{string.Join(", ", teacherLogits.shape)}].", nameof(teacherLogits));
        }
        using var scope = NewDisposeScope();
        var logP = nn.functional.log_softmax(studentLogits / temperature, -1);
        var q = nn.functional.softmax(teacherLogits.detach() / temperature, -1);
        var kl = nn.functional.kl_div(logP, q, reduction: nn.Reduction.Sum, log_target: false) / studentLogits.shape[0];
        return (kl * (temperature * temperature)).MoveToOuterDisposeScope();
    }

    /// <summary>timm's <c>SoftTargetCrossEntropy</c>: <c>sum(-targets * log_softmax(logits), -1).mean()</c> for soft
    /// (e.g. mixup) targets [B, C].</summary>
    public static Tensor SoftTargetCrossEntropy(Tensor logits, Tensor targets)
    {
        if (logits.ndim != 2 || !logits.shape.SequenceEqual(targets.shape))
        {
            throw new ArgumentException(
                $"Soft-target cross-entropy needs logits and targets [B, C] of equal shape: logits " +
                $"[{string.Join(", ", logits.shape)}] vs targets [{string.Join(", ", targets.shape)}].", nameof(targets));
        }
        using var scope = NewDisposeScope();
        var loss = (-targets * nn.functional.log_softmax(logits, -1)).sum(-1).mean();
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Cross-entropy with label smoothing for integer labels [B] (equal to timm's
    /// <c>LabelSmoothingCrossEntropy</c> and to <c>F.cross_entropy(label_smoothing=s)</c>).</summary>
    public static Tensor LabelSmoothingCrossEntropy(Tensor logits, Tensor labels, double smoothing = 0.0)
    {
        if (smoothing is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "Label smoothing must be in [0, 1).");
        }
        if (logits.ndim != 2 || labels.ndim != 1 || labels.shape[0] != logits.shape[0])
        {
            throw new ArgumentException(
                $"Cross-entropy needs logits [B, C] and labels [B]: logits [{string.Join(", ", logits.shape)}] vs labels " +
                $"[{string.Join(", ", labels.shape)}].", nameof(labels));
        }
        return nn.functional.cross_entropy(logits, labels, label_smoothing: smoothing);
    }
}
