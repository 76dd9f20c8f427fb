using VkD.Distillation.Losses;
using static TorchSharp.torch;

namespace VkD.Distillation.Distiller;

/// <summary>
/// Cross-entropy of the student's class head against the batch's targets: label-smoothed for int64 labels, soft-target
/// for float (Mixup/CutMix) targets, as timm's train loop chooses.
/// </summary>
/// <param name="LabelSmoothing">Smoothing for integer labels.</param>
/// <param name="Weight">Weight (1 in every recipe of the reference).</param>
/// <param name="Name">Term name in logs.</param>
/// <param name="LogitsFeature">Name of the student's logits.</param>
public sealed record CrossEntropyTerm(double LabelSmoothing = 0.0, double Weight = 1.0, string Name = "ce",
    string LogitsFeature = FeatureNames.Logits) : ILossTerm
{
    /// <inheritdoc />
    public bool NeedsTeacher => false;

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var logits = inputs.Student.Require(LogitsFeature, Name);
        var targets = inputs.RequireTargets(Name);
        return targets.dtype == ScalarType.Int64
            ? ClassificationLosses.LabelSmoothingCrossEntropy(logits, targets, LabelSmoothing)
            : ClassificationLosses.SoftTargetCrossEntropy(logits, targets);
    }
}

/// <summary>
/// Hinton's logit KD, <c>T² · KL(softmax(teacher/T) ‖ softmax(student/T))</c> (batch mean), on the student's
/// distillation head when it has one (DeiT's dist token) and its class head otherwise.
/// </summary>
/// <param name="Temperature">Temperature T.</param>
/// <param name="Weight">Weight (the reference's gamma).</param>
/// <param name="Name">Term name in logs.</param>
public sealed record LogitKdTerm(double Temperature = 1.0, double Weight = 1.0, string Name = "kd") : ILossTerm
{
    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = inputs.Student.Find(FeatureNames.DistillationLogits) ?? inputs.Student.Require(FeatureNames.Logits, Name);
        var teacher = inputs.RequireTeacher(Name).Find(FeatureNames.Logits) ?? throw new ArgumentException(
            $"gamma = {Weight} needs teacher logits, but the teacher gave features only; set gamma = 0 for a feature-only teacher.");
        return ClassificationLosses.KlDistillation(student, teacher, Temperature);
    }
}
