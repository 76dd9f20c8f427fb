using TorchSharp;
using TorchSharp.Modules;
using VkD.Distillation.Losses;
using VkD.Distillation.Teachers;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Training.Loop;

/// <summary>The loss terms of one step as tensors (the graph hangs off <see cref="Total"/>).</summary>
/// <param name="Total">ce + kd + repr.</param>
/// <param name="Ce">Cross-entropy of the class head.</param>
/// <param name="Kd">gamma · KL term.</param>
/// <param name="Repr">alpha · feature term.</param>
public sealed record LossParts(Tensor Total, Tensor Ce, Tensor Kd, Tensor Repr);

/// <summary>
/// What the trainer minimises in one step. Supervised training (<c>vkd train</c>, and distillation with
/// alpha = gamma = 0) is the cross-entropy alone and never runs a teacher, as the reference skips its teacher when both
/// weights are 0. Distillation runs the frozen teacher on the same (mixed) batch and hands everything to the core's
/// <see cref="DistillationLoss"/>, which owns the projector.
/// </summary>
public sealed class TrainingObjective : IDisposable
{
    private TrainingObjective(ITeacher? teacher, DistillationLoss? loss, double smoothing)
    {
        Teacher = teacher;
        Loss = loss;
        Smoothing = smoothing;
    }

    /// <summary>The frozen teacher (null for supervised training).</summary>
    public ITeacher? Teacher { get; }

    /// <summary>The distillation loss module with its projector (null for supervised training).</summary>
    public DistillationLoss? Loss { get; }

    /// <summary>Label smoothing for integer labels.</summary>
    public double Smoothing { get; }

    /// <summary>True when steps run the teacher (alpha or gamma &gt; 0).</summary>
    public bool UsesTeacher => Teacher is not null && Loss is not null && (Loss.Options.Alpha > 0 || Loss.Options.Gamma > 0);

    /// <summary>Plain supervised cross-entropy.</summary>
    public static TrainingObjective Supervised(double smoothing) => new(null, null, smoothing);

    /// <summary>Distillation from <paramref name="teacher"/> with <paramref name="loss"/>; takes ownership of both.</summary>
    public static TrainingObjective Distillation(ITeacher teacher, DistillationLoss loss) => new(teacher, loss, loss.Options.LabelSmoothing);

    /// <summary>Trainable parameters of the objective itself (the projector's), with state-dict names.</summary>
    public IEnumerable<(string Name, Parameter Param)> NamedParameters() =>
        Loss is null ? [] : Loss.named_parameters().Select(p => (p.name, p.parameter));

    /// <summary>Parameters the optimiser must keep out of weight decay (the projector's, per IProjector).</summary>
    public IReadOnlySet<Parameter> WeightDecayExempt()
    {
        var set = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        if (Loss is not null && Loss.Projector.ExemptFromWeightDecay)
        {
            foreach (var p in Loss.Projector.parameters())
            {
                set.Add(p);
            }
        }
        return set;
    }

    /// <summary>Switches the trainable parts between train and eval mode.</summary>
    public void Train(bool on)
    {
        if (Loss is null)
        {
            return;
        }
        if (on)
        {
            Loss.train();
        }
        else
        {
            Loss.eval();
        }
    }

    /// <summary>Runs the student (and the teacher when needed) on <paramref name="images"/> and returns the terms.</summary>
    public LossParts Compute(ClassifierModel student, Tensor images, Tensor targets)
    {
        using var scope = NewDisposeScope();
        LossParts parts;
        if (!UsesTeacher)
        {
            var logits = student.forward(images);
            var ce = targets.dtype == ScalarType.Int64
                ? ClassificationLosses.LabelSmoothingCrossEntropy(logits, targets, Smoothing)
                : ClassificationLosses.SoftTargetCrossEntropy(logits, targets);
            var zero = zeros(Array.Empty<long>(), ce.dtype);
            parts = new LossParts(ce, ce, zero, zero.clone());
        }
        else
        {
            var teacherOut = Teacher!.Forward(images);
            var outputs = student.ForwardForDistillation(images);
            var o = Loss!.Compute(outputs.Logits, outputs.DistillationLogits, outputs.PooledFeatures, targets, teacherOut);
            parts = new LossParts(o.Total, o.Ce, o.Kd, o.Repr);
        }
        return new LossParts(parts.Total.MoveToOuterDisposeScope(), parts.Ce.MoveToOuterDisposeScope(),
            parts.Kd.MoveToOuterDisposeScope(), parts.Repr.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Teacher?.Dispose();
        Loss?.Dispose();
    }
}
