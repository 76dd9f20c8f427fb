namespace VkD.Training.Sweeps;

/// <summary>Names of what a sweep writes into its output folder (documented in docs/cli.md, "vkd sweep").</summary>
public static class SweepFiles
{
    /// <summary>The table as data: per-seed values, mean and sample std, the config and the software versions.</summary>
    public const string Json = "sweep.json";

    /// <summary>The same table as Markdown, for reading and for docs/results.md.</summary>
    public const string Markdown = "sweep.md";

    /// <summary>Sub-folder of one seed's run (its own checkpoints, logs, summary.json).</summary>
    public static string SeedFolder(int seed) => $"seed{seed}";

    /// <summary>Console output of one seed's child process (appended across resumes).</summary>
    public static string SeedLog(int seed) => $"seed{seed}.log";

    /// <summary>The exact options one seed's child process is started with (a <c>--config</c> file).</summary>
    public static string SeedOptions(int seed) => $"seed{seed}.options.json";
}
