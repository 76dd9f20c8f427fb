namespace VkD.Training.Loop;

/// <summary>One finished training step, as reported to observers (progress bars, tests).</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Iteration">0-based iteration within the epoch.</param>
/// <param name="ItersPerEpoch">Iterations per epoch.</param>
/// <param name="Lr">Learning rate used for the step.</param>
/// <param name="Terms">The task's weighted loss terms, by name, in its order.</param>
/// <param name="Total">Total loss (summed over the step's phases).</param>
/// <param name="Images">Examples in the batch.</param>
public sealed record IterationReport(int Epoch, int Iteration, int ItersPerEpoch, double Lr, IReadOnlyList<(string Name, double Value)> Terms, double Total, int Images);

/// <summary>One finished epoch.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="TrainLoss">Mean total loss over the epoch's iterations.</param>
/// <param name="Eval">Evaluation of the model, or null when this epoch was not evaluated.</param>
/// <param name="EmaEval">Evaluation of the EMA copy, if any.</param>
/// <param name="Seconds">Wall time of the epoch, evaluation included.</param>
public sealed record EpochReport(int Epoch, double TrainLoss, MetricSet? Eval, MetricSet? EmaEval, double Seconds);

/// <summary>Receives progress from the trainer. All members have no-op defaults.</summary>
public interface ITrainingObserver
{
    /// <summary>Training (re)starts at <paramref name="startEpoch"/>/<paramref name="startIteration"/>.</summary>
    void OnStart(int epochs, int itersPerEpoch, int startEpoch, int startIteration) { }

    /// <summary>An epoch starts.</summary>
    void OnEpochStart(int epoch) { }

    /// <summary>An optimiser step finished.</summary>
    void OnIteration(IterationReport report) { }

    /// <summary>Evaluation starts (so a progress display can switch labels).</summary>
    void OnEvaluating(int epoch) { }

    /// <summary>An epoch finished (after evaluation and checkpointing).</summary>
    void OnEpochEnd(EpochReport report) { }

    /// <summary>A one-line message for the user.</summary>
    void OnMessage(string message) { }
}

/// <summary>An observer that ignores everything.</summary>
public sealed class NullTrainingObserver : ITrainingObserver
{
    /// <summary>Shared instance.</summary>
    public static NullTrainingObserver Instance { get; } = new();
}
