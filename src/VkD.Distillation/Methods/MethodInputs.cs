using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>The inputs the logit methods read, with errors that say what is missing and how to get it.</summary>
internal static class MethodInputs
{
    /// <summary>The student's distillation head when it has one (DeiT's dist token), as logit KD reads, else its class head.</summary>
    public static Tensor StudentLogits(LossInputs inputs, string term) =>
        inputs.Student.Find(FeatureNames.DistillationLogits) ?? inputs.Student.Require(FeatureNames.Logits, term);

    /// <summary>The teacher's logits (detached).</summary>
    public static Tensor TeacherLogits(LossInputs inputs, string term) =>
        (inputs.RequireTeacher(term).Find(FeatureNames.Logits) ?? throw new ArgumentException(
            $"Loss term '{term}' needs teacher logits, but the teacher gave features only (a backbone without a classifier); " +
            "use a teacher with a classification head, or a method on features (fitnet, at, rkd, pkt, crd, vkd).")).detach();

    /// <summary>int64 class labels [B].</summary>
    public static Tensor HardLabels(LossInputs inputs, string term)
    {
        var targets = inputs.RequireTargets(term);
        if (targets.dtype != ScalarType.Int64 || targets.ndim != 1)
        {
            throw new ArgumentException(
                $"Loss term '{term}' needs integer class labels [B], but the batch has {targets.dtype} targets [{string.Join(", ", targets.shape)}] " +
                "(Mixup/CutMix soft targets); pass --mixup 0 --cutmix 0.");
        }
        return targets;
    }

    /// <summary>Two logit tensors [B, C] of the same shape.</summary>
    public static void RequireSameLogits(Tensor student, Tensor teacher, string term)
    {
        if (student.ndim != 2 || !student.shape.SequenceEqual(teacher.shape))
        {
            throw new ArgumentException(
                $"Loss term '{term}' compares logits of the same classes, but the student gives [{string.Join(", ", student.shape)}] and the teacher [{string.Join(", ", teacher.shape)}].");
        }
    }

    /// <summary>[B, ...] as [B, rest] (the references' <c>view(B, -1)</c>).</summary>
    public static Tensor Flatten(Tensor x) => x.ndim == 2 ? x : x.reshape(x.shape[0], -1);

    /// <summary>Shape in brackets, for messages.</summary>
    public static string Shape(IEnumerable<long> shape) => $"[{string.Join(", ", shape)}]";
}
