using VkD.Training.Loop;
using VkD.Training.Sessions;

namespace VkD.Training.Sweeps;

/// <summary>
/// Runs seeds one after another in this process through <see cref="TrainingSession.Run"/>. One at a time: libtorch's
/// random generator and thread count are process-wide, so two runs in one process would disturb each other.
/// </summary>
public sealed class InProcessSeedRunner : ISeedRunner
{
    private readonly Func<SeedRun, Func<ITrainingObserver, TrainingResult>, TrainingResult> _host;

    /// <summary>Creates the runner. <paramref name="host"/> shows a run (e.g. with a progress display): it is given
    /// the seed and the run, and must call the run with its observer. Null runs silently.</summary>
    public InProcessSeedRunner(Func<SeedRun, Func<ITrainingObserver, TrainingResult>, TrainingResult>? host = null)
    {
        _host = host ?? ((_, body) => body(NullTrainingObserver.Instance));
    }

    /// <inheritdoc />
    public int MaxParallel => 1;

    /// <inheritdoc />
    /// <remarks>Errors of the run (bad data, a NaN loss, an interruption) propagate as their exceptions.</remarks>
    public int Run(SeedRun run, CancellationToken stop)
    {
        TrainingSession.EnsureRegistered();
        var result = _host(run, observer => TrainingSession.Run(run.Kind, run.Options, observer, stop: stop));
        return result.Completed ? 0 : 1;
    }
}
