using VkD.Distillation.Distiller;
using VkD.Training.Loop;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Training.Tasks;

/// <summary>How a <see cref="FeatureDistillationTask{TBatch}"/> runs a user's own models: delegates from a batch to
/// each side's named features, and the distiller that turns them into loss terms.</summary>
/// <typeparam name="TBatch">The user's batch type.</typeparam>
public sealed class FeatureDistillationTaskSetup<TBatch>
{
    /// <summary>The trained model (its parameters and the distiller's are optimised together).</summary>
    public required nn.Module Student { get; init; }

    /// <summary>Name recorded in checkpoints and the summary.</summary>
    public required string Name { get; init; }

    /// <summary>The student's features for a batch (with the graph), e.g. from <c>ForwardForDistillation</c> or <see cref="ModuleTaps"/>.</summary>
    public required Func<TBatch, FeatureSet> StudentFeatures { get; init; }

    /// <summary>The teacher's features for a batch; the task runs it without autograd. Null: no teacher.</summary>
    public Func<TBatch, FeatureSet>? TeacherFeatures { get; init; }

    /// <summary>The batch's targets for terms that read them (cross-entropy); null when there are none.</summary>
    public Func<TBatch, Tensor?>? Targets { get; init; }

    /// <summary>The loss terms. The task takes ownership.</summary>
    public required FeatureDistiller Distiller { get; init; }

    /// <summary>Examples in a batch (for progress rates).</summary>
    public required Func<TBatch, int> BatchSize { get; init; }

    /// <summary>Evaluates a model (the student, or its EMA copy); null: no evaluation.</summary>
    public Func<nn.Module, MetricSet>? Evaluate { get; init; }

    /// <summary>Names of the metrics <see cref="Evaluate"/> returns.</summary>
    public IReadOnlyList<string> MetricNames { get; init; } = [];

    /// <summary>The metric that picks the best epoch (the first metric when empty).</summary>
    public string? BestMetric { get; init; }

    /// <summary>True when a larger best metric is better.</summary>
    public bool HigherIsBetter { get; init; } = true;

    /// <summary>Builds a fresh copy of the student's architecture for <c>--student-ema</c>; null: EMA unsupported.</summary>
    public Func<nn.Module>? CreateEmaCopy { get; init; }

    /// <summary>AdamW base learning rate (the loop's schedule sets it every step).</summary>
    public double Lr { get; init; } = 1e-3;

    /// <summary>Weight decay (timm's no-decay rules; orthogonal projectors exempt).</summary>
    public double WeightDecay { get; init; } = 0.05;
}

/// <summary>
/// Distillation of any TorchSharp model by any <see cref="FeatureDistiller"/>, as a task of the one loop: the shortest
/// way from a user's own student and teacher to a run with logs, checkpoints and exact resume. One AdamW over the
/// student and the distiller; checkpoint entry <c>student</c> holds both (projectors under their names).
/// </summary>
/// <typeparam name="TBatch">The user's batch type.</typeparam>
public sealed class FeatureDistillationTask<TBatch> : ITrainingTask<TBatch>, IDisposable
{
    private readonly FeatureDistillationTaskSetup<TBatch> _s;
    private readonly AdamWOptimizer _optimizer;

    /// <summary>Creates the task and its optimiser.</summary>
    public FeatureDistillationTask(FeatureDistillationTaskSetup<TBatch> setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _s = setup;
        if (setup.Distiller.NeedsTeacher && setup.TeacherFeatures is null)
        {
            throw new ArgumentException("The distiller's terms read the teacher, but no TeacherFeatures was given.");
        }
        if (setup.Evaluate is not null && setup.MetricNames.Count == 0)
        {
            throw new ArgumentException("Evaluate is set but MetricNames is empty: name the metrics it returns.");
        }
        var named = setup.Student.named_parameters().Concat(setup.Distiller.named_parameters()).Select(p => (p.name, p.parameter));
        _optimizer = new AdamWOptimizer(WeightDecayGroups.Build(named, setup.WeightDecay, setup.Distiller.WeightDecayExempt()), setup.Lr);
        Optimizers = [new TaskOptimizer("optimizer", _optimizer)];
        CheckpointParts = [new CheckpointPart("student", [setup.Student, setup.Distiller])];
    }

    /// <inheritdoc />
    public string ModelName => _s.Name;

    /// <inheritdoc />
    public IReadOnlyList<string> TermNames => _s.Distiller.TermNames;

    /// <inheritdoc />
    public IReadOnlyList<string> MetricNames => _s.MetricNames;

    /// <inheritdoc />
    public string BestMetric => _s.BestMetric ?? _s.MetricNames.FirstOrDefault() ?? "";

    /// <inheritdoc />
    public bool HigherIsBetter => _s.HigherIsBetter;

    /// <inheritdoc />
    public IReadOnlyList<TaskOptimizer> Optimizers { get; }

    /// <inheritdoc />
    public IReadOnlyList<CheckpointPart> CheckpointParts { get; }

    /// <inheritdoc />
    public (nn.Module Source, Func<nn.Module> CreateCopy, string Entry)? EmaTarget =>
        _s.CreateEmaCopy is null ? null : (_s.Student, _s.CreateEmaCopy, "student_ema");

    /// <inheritdoc />
    public IEmaSchedule? EmaSchedule => null;

    /// <inheritdoc />
    public nn.Module FinalModel => _s.Student;

    /// <inheritdoc />
    public bool HasEvaluation => _s.Evaluate is not null;

    /// <inheritdoc />
    public void SetTraining(bool training)
    {
        _s.Student.train(training);
        _s.Distiller.train(training);
    }

    /// <inheritdoc />
    public int BatchSize(TBatch batch) => _s.BatchSize(batch);

    /// <inheritdoc />
    public LossTerms ComputeLoss(int phase, TBatch batch, StepContext context)
    {
        FeatureSet? teacher = null;
        if (_s.Distiller.NeedsTeacher)
        {
            using var _ = no_grad();
            teacher = _s.TeacherFeatures!(batch);
        }
        var student = _s.StudentFeatures(batch);
        return _s.Distiller.Compute(new LossInputs(student, teacher, _s.Targets?.Invoke(batch)));
    }

    /// <inheritdoc />
    public MetricSet? Evaluate(nn.Module model)
    {
        if (_s.Evaluate is null)
        {
            return null;
        }
        using var _ = no_grad();
        return _s.Evaluate(model);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _s.Distiller.Dispose();
    }
}
