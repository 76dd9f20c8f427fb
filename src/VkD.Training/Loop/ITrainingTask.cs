using VkD.Distillation.Distiller;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Training.Loop;

/// <summary>Where one step is: what the task needs to draw its own randomness reproducibly.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Iteration">0-based iteration within the epoch.</param>
/// <param name="Step">Global step (epoch · iterations per epoch + iteration).</param>
/// <param name="Seed">The run's seed.</param>
public sealed record StepContext(int Epoch, int Iteration, long Step, long Seed)
{
    /// <summary>Where the task records the time of its parts (teacher, student, loss); null when nobody profiles.</summary>
    public StepProfile? Profile { get; init; }

    /// <summary>A seed for the step's own random stream <paramref name="salt"/> (Mixup's, DiffAugment's), independent
    /// of the global generator the loop seeds with <see cref="TrainingLoop.StepSeed"/>.</summary>
    public long SeedFor(long salt) => TrainingLoop.StepSeed(Seed ^ salt, Step);
}

/// <summary>One optimiser of a task, and the checkpoint entry its state is saved under.</summary>
/// <param name="Entry">Checkpoint entry (<c>optimizer</c> for the first, as the reference names it).</param>
/// <param name="Optimizer">The optimiser.</param>
/// <param name="LrScale">Its learning rate relative to the schedule's (a GAN's D and G rates differ).</param>
public sealed record TaskOptimizer(string Entry, ITrainingOptimizer Optimizer, double LrScale = 1.0);

/// <summary>A checkpoint entry made of the state dicts of one or more modules (the student and its projectors).</summary>
/// <param name="Entry">Entry name (<c>student</c>, <c>student_ema</c>, <c>generator</c>).</param>
/// <param name="Modules">The modules whose state dicts are merged into the entry; their keys must not collide.</param>
public sealed record CheckpointPart(string Entry, IReadOnlyList<nn.Module> Modules);

/// <summary>Evaluation metrics of a task, by name (e.g. <c>acc1</c>, <c>acc5</c>, <c>loss</c>; <c>AP</c> for detection).</summary>
/// <param name="Values">The metrics.</param>
/// <param name="Count">Examples evaluated.</param>
public sealed record MetricSet(IReadOnlyDictionary<string, double> Values, int Count)
{
    /// <summary>The metric <paramref name="name"/>.</summary>
    public double this[string name] => Values.TryGetValue(name, out var v)
        ? v
        : throw new KeyNotFoundException($"No metric '{name}'; the metrics are [{string.Join(", ", Values.Keys)}].");
}

/// <summary>
/// A task of the one training loop (classification now; detection and GAN next). The task owns its models, teacher,
/// distiller and optimisers, and says how a batch becomes named loss terms; the loop owns everything every task needs:
/// per-step seeding, the NaN guard, gradient sync, clipping, the schedule, EMA, logs, plots, progress, atomic
/// checkpoints and exact resume.
/// </summary>
/// <typeparam name="TBatch">The task's batch type.</typeparam>
public interface ITrainingTask<in TBatch>
{
    /// <summary>Name recorded in checkpoints (<c>model</c>) and the summary (the student's zoo name).</summary>
    string ModelName { get; }

    /// <summary>Loss-term names, the per-step columns of <c>iterations.csv</c> (before <c>total</c>), over all phases.</summary>
    IReadOnlyList<string> TermNames { get; }

    /// <summary>Evaluation metric names, the columns of <c>epochs.csv</c> (and <c>ema_</c>-prefixed ones with EMA).</summary>
    IReadOnlyList<string> MetricNames { get; }

    /// <summary>The metric that picks the best epoch.</summary>
    string BestMetric { get; }

    /// <summary>True when a larger <see cref="BestMetric"/> is better (accuracy, AP), false for losses or FID.</summary>
    bool HigherIsBetter { get; }

    /// <summary>
    /// The optimisers in the order a step runs them: one phase per optimiser (a GAN's D then G). Phase i computes
    /// its terms with <see cref="ComputeLoss"/>(i, ...), backpropagates them and steps optimiser i.
    /// </summary>
    IReadOnlyList<TaskOptimizer> Optimizers { get; }

    /// <summary>Checkpoint entries holding trainable state (the student and its projectors under <c>student</c>).</summary>
    IReadOnlyList<CheckpointPart> CheckpointParts { get; }

    /// <summary>The module the loop keeps an EMA of (null: EMA not supported), and how to build a fresh copy.</summary>
    (nn.Module Source, Func<nn.Module> CreateCopy, string Entry)? EmaTarget { get; }

    /// <summary>The task's own EMA momentum rule (BigGAN's constant decay after a start step), or null for the loop's
    /// (<see cref="EmaMomentumSchedule"/> from <c>--student-ema-decay</c>, rising linearly to 1 over the run).</summary>
    IEmaSchedule? EmaSchedule { get; }

    /// <summary>The module saved as the run's final weights (<c>model.pth</c>).</summary>
    nn.Module FinalModel { get; }

    /// <summary>Switches the trainable parts between train and eval mode.</summary>
    void SetTraining(bool training);

    /// <summary>The named loss terms of phase <paramref name="phase"/> on <paramref name="batch"/>; the loop disposes them.</summary>
    LossTerms ComputeLoss(int phase, TBatch batch, StepContext context);

    /// <summary>True when <see cref="Evaluate"/> has data to evaluate on.</summary>
    bool HasEvaluation { get; }

    /// <summary>Evaluates <paramref name="model"/> (the trained model, or its EMA copy); null when the task has no
    /// evaluation data.</summary>
    MetricSet? Evaluate(nn.Module model);

    /// <summary>Examples in one batch, for progress rates.</summary>
    int BatchSize(TBatch batch);
}
