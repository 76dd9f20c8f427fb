using VkD.Training.Logging;

namespace VkD.Tests.Training;

/// <summary>Reads a run's <c>iterations.csv</c> for comparison between runs: every column but the wall-clock
/// <c>seconds</c>, which no two runs share.</summary>
internal static class IterationLogs
{
    /// <summary>The lines of <paramref name="runDir"/>'s iteration log, header included, without the seconds column
    /// (a torn last line keeps what it has).</summary>
    public static string[] Deterministic(string runDir)
    {
        var lines = File.ReadAllLines(Path.Combine(runDir, RunFiles.IterationsCsv));
        var seconds = Array.IndexOf(lines[0].Split(','), "seconds");
        Assert.True(seconds >= 0, $"{runDir}: iterations.csv has no seconds column ({lines[0]})");
        return [.. lines.Select(l => string.Join(',', l.Split(',').Where((_, i) => i != seconds)))];
    }
}
