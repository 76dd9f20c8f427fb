namespace VkD.Training.Sweeps;

/// <summary>Runs one seed of a sweep to completion: in this process (<see cref="InProcessSeedRunner"/>) or as a child
/// process of the <c>vkd</c> executable (<see cref="ChildProcessSeedRunner"/>).</summary>
public interface ISeedRunner
{
    /// <summary>Seeds this runner can run at the same time (1 when runs share this process's libtorch state).</summary>
    int MaxParallel { get; }

    /// <summary>Runs <paramref name="run"/>; returns 0 when it finished and wrote its summary, otherwise the exit code
    /// that stopped it (a child process's). <paramref name="stop"/> asks the run to stop at a step boundary with its
    /// position saved.</summary>
    int Run(SeedRun run, CancellationToken stop);
}
