using System.Globalization;
using System.Text;
using System.Text.Json;
using VkD.Training.Logging;
using VkD.Training.Sessions;

namespace VkD.Training.Sweeps;

/// <summary>Writes a <see cref="SweepTable"/> as <c>sweep.json</c> (data) and <c>sweep.md</c> (for reading).</summary>
public static class SweepReport
{
    /// <summary>Writes both files into <paramref name="folder"/> (atomically) and returns their paths.</summary>
    public static (string Json, string Markdown) Write(SweepTable table, string folder)
    {
        Directory.CreateDirectory(folder);
        var json = Path.Combine(folder, SweepFiles.Json);
        var md = Path.Combine(folder, SweepFiles.Markdown);
        AtomicFile.WriteAllText(json, ToJson(table));
        AtomicFile.WriteAllText(md, ToMarkdown(table));
        return (json, md);
    }

    /// <summary>The table as indented JSON.</summary>
    public static string ToJson(SweepTable table)
    {
        static Dictionary<string, object?> Spread(SeedSpread s) => new()
        {
            ["mean"] = s.Mean,
            ["std"] = s.Std,
            ["values"] = s.Values,
        };
        var e = table.Environment;
        var body = new Dictionary<string, object?>
        {
            ["command"] = Command(table.Kind),
            ["seeds"] = table.Seeds.Select(s => s.Seed).ToArray(),
            ["std_kind"] = "sample (n-1)",
            ["best_acc1"] = Spread(table.BestAcc1),
            ["last_acc1"] = Spread(table.LastAcc1),
            ["best_acc5"] = Spread(table.BestAcc5),
            ["last_acc5"] = Spread(table.LastAcc5),
            ["per_seed"] = table.Seeds.Select(s => new Dictionary<string, object?>
            {
                ["seed"] = s.Seed,
                ["folder"] = SweepFiles.SeedFolder(s.Seed),
                ["best_acc1"] = s.BestAcc1,
                ["best_acc5"] = s.BestAcc5,
                ["best_epoch"] = s.BestEpoch,
                ["last_acc1"] = s.LastAcc1,
                ["last_acc5"] = s.LastAcc5,
                ["epochs"] = s.Epochs,
                ["seconds"] = double.IsFinite(s.Seconds) ? s.Seconds : null,
            }).ToArray(),
            ["config"] = table.Config,
            ["software"] = new Dictionary<string, object?>
            {
                ["vkd_net"] = e.VkdNet,
                ["torchsharp"] = e.TorchSharp,
                ["libtorch"] = e.Libtorch,
                ["dotnet"] = e.DotNet,
                ["os"] = e.Os,
                ["cpu"] = e.Cpu,
                ["logical_cores"] = e.LogicalCores,
                ["threads_per_run"] = e.ThreadsPerRun,
                ["parallel"] = e.Parallel,
            },
        };
        return JsonSerializer.Serialize(body, new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The table as Markdown: one row per metric, mean ± std and one column per seed, then config and software.</summary>
    public static string ToMarkdown(SweepTable table)
    {
        var inv = CultureInfo.InvariantCulture;
        var seeds = table.Seeds;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"# vkd sweep: {Command(table.Kind)}, {seeds.Count} seed{(seeds.Count == 1 ? "" : "s")} ({string.Join(", ", seeds.Select(s => s.Seed))})");
        sb.AppendLine();
        var what = new List<string>();
        void Describe(string key, string label)
        {
            if (table.Config.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } text)
            {
                what.Add($"{label} `{text}`");
            }
        }
        Describe("student-model", "student");
        if (table.Kind == SessionKind.Distill)
        {
            Describe("teacher", "teacher");
            Describe("distill-method", "method");
        }
        Describe("data-set", "data");
        if (table.Config.TryGetValue("epochs", out var epochs))
        {
            what.Add($"{epochs.GetRawText()} epochs");
        }
        if (what.Count > 0)
        {
            sb.AppendLine(string.Join(", ", what) + ".");
            sb.AppendLine();
        }
        sb.AppendLine(inv, $"| metric | mean ± std (n = {seeds.Count}) | {string.Join(" | ", seeds.Select(s => $"seed {s.Seed}"))} |");
        sb.AppendLine(inv, $"|---|---|{string.Concat(seeds.Select(_ => "---|"))}");
        void Row(string label, SeedSpread s)
        {
            var std = s.Std is { } d ? d.ToString("F2", inv) : "n/a";
            sb.AppendLine(inv, $"| {label} | {s.Mean.ToString("F2", inv)} ± {std} | {string.Join(" | ", s.Values.Select(v => v.ToString("F2", inv)))} |");
        }
        Row("best top-1 (%)", table.BestAcc1);
        Row("last top-1 (%)", table.LastAcc1);
        Row("best top-5 (%)", table.BestAcc5);
        Row("last top-5 (%)", table.LastAcc5);
        sb.AppendLine(inv, $"| best epoch (1-based) | | {string.Join(" | ", seeds.Select(s => (s.BestEpoch + 1).ToString(inv)))} |");
        var seconds = seeds.Where(s => double.IsFinite(s.Seconds)).Sum(s => s.Seconds);
        sb.AppendLine(inv, $"| run time (s) | total {seconds.ToString("F0", inv)} | {string.Join(" | ", seeds.Select(s => double.IsFinite(s.Seconds) ? s.Seconds.ToString("F0", inv) : "?"))} |");
        sb.AppendLine();
        sb.AppendLine("std is the sample standard deviation over seeds (n − 1). \"best\" is the epoch with the highest top-1 on the");
        sb.AppendLine("evaluation set itself, so it is an optimistic pick; \"last\" is the final epoch, the number to compare. Run");
        sb.AppendLine("time is the wall time recorded in each seed's summary.json (the last process's part when a seed was resumed).");
        sb.AppendLine();
        sb.AppendLine("## Configuration (the first seed's config.json without seed, output-dir and resume)");
        sb.AppendLine();
        sb.AppendLine("```json");
        sb.AppendLine(JsonSerializer.Serialize(table.Config, new JsonSerializerOptions { WriteIndented = true }));
        sb.AppendLine("```");
        sb.AppendLine();
        var e = table.Environment;
        sb.AppendLine("## Software and machine");
        sb.AppendLine();
        sb.AppendLine(inv, $"- VkD.NET {e.VkdNet}; TorchSharp {e.TorchSharp}; libtorch {e.Libtorch}; {e.DotNet}");
        sb.AppendLine(inv, $"- {e.Os}; CPU {e.Cpu}, {e.LogicalCores} logical cores");
        sb.AppendLine(inv, $"- {e.ThreadsPerRun} intra-op thread(s) per run, {e.Parallel} seed(s) at a time");
        return sb.ToString();
    }

    private static string Command(SessionKind kind) => kind == SessionKind.Train ? "train" : "distill";
}
