namespace VkD.Training.Sweeps;

/// <summary>A seed whose run did not finish.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="ExitCode">The run's exit code (a child process's; 130/143 after SIGINT/SIGTERM).</param>
/// <param name="LogFile">Where its output went (a child process's log), or null for an in-process run.</param>
public sealed record SeedFailure(int Seed, int ExitCode, string? LogFile);

/// <summary>Outcome of <see cref="Sweep.Run"/>.</summary>
/// <param name="Table">The table over every seed; null when a seed did not finish (see <paramref name="Failures"/>).</param>
/// <param name="Skipped">Seeds that had finished in an earlier sweep (their summary.json existed).</param>
/// <param name="Resumed">Seeds continued from the latest checkpoint of an interrupted run.</param>
/// <param name="Started">Seeds run by this sweep (resumed ones included).</param>
/// <param name="Failures">Seeds that did not finish; a sweep run again with the same flags resumes them.</param>
/// <param name="JsonPath">The written sweep.json, or null.</param>
/// <param name="MarkdownPath">The written sweep.md, or null.</param>
public sealed record SweepResult(SweepTable? Table, IReadOnlyList<int> Skipped, IReadOnlyList<int> Resumed, IReadOnlyList<int> Started,
    IReadOnlyList<SeedFailure> Failures, string? JsonPath, string? MarkdownPath);
