using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VkD.Training.Logging;
using VkD.Training.Loop;
using VkD.Training.Options;

namespace VkD.Training.Sessions;

/// <summary>Settings of <see cref="Quickstart"/>; the defaults are the shipped assets and the README's run.</summary>
public sealed record QuickstartOptions
{
    /// <summary>Shipped dataset folder (Fashion-MNIST subset, IDX gz).</summary>
    public required string DataPath { get; init; }

    /// <summary>Shipped teacher checkpoint.</summary>
    public required string TeacherPath { get; init; }

    /// <summary>Teacher architecture of <see cref="TeacherPath"/>.</summary>
    public string Teacher { get; init; } = Quickstart.TeacherModel;

    /// <summary>Student architecture.</summary>
    public string Student { get; init; } = Quickstart.StudentModel;

    /// <summary>Output folder (one subfolder per variant + the summary).</summary>
    public string OutputDir { get; init; } = "vkd-quickstart";

    /// <summary>Epochs per variant.</summary>
    public int Epochs { get; init; } = Quickstart.DefaultEpochs;

    /// <summary>Batch size.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Training images used (0 = all shipped).</summary>
    public int TrainSubset { get; init; }

    /// <summary>Evaluation images used (0 = all shipped).</summary>
    public int EvalSubset { get; init; }

    /// <summary>Seed.</summary>
    public int Seed { get; init; }

    /// <summary>Intra-op threads (0 = default).</summary>
    public int Threads { get; init; }

    /// <summary>Variants to run (default: all three).</summary>
    public IReadOnlyList<string> Variants { get; init; } = Quickstart.VariantNames;
}

/// <summary>One row of the quickstart table.</summary>
/// <param name="Variant">no_kd, logit_kd or vkd.</param>
/// <param name="Description">What the variant adds.</param>
/// <param name="Acc1">Final top-1 on the shipped test images, %.</param>
/// <param name="Acc5">Final top-5, %.</param>
/// <param name="Seconds">Wall time of the variant.</param>
/// <param name="OutputDir">Its output folder.</param>
public sealed record QuickstartRow(string Variant, string Description, double Acc1, double Acc5, double Seconds, string OutputDir);

/// <summary>
/// <c>vkd quickstart</c>: distils the shipped teacher into the same small student three ways — no KD (alpha = gamma =
/// 0), logit KD (gamma = 1), and VkD (gamma = 1, alpha = 1, orthogonal projector + teacher layer norm) — with the same
/// seed, data and schedule, then writes a summary table (markdown + JSON) next to each variant's full run output.
/// </summary>
public static class Quickstart
{
    /// <summary>Teacher architecture of the shipped checkpoint.</summary>
    public const string TeacherModel = "resnet32";

    /// <summary>Student architecture.</summary>
    public const string StudentModel = "resnet8";

    /// <summary>Epochs per variant of the default run.</summary>
    public const int DefaultEpochs = 4;

    /// <summary>Variant names in run order.</summary>
    public static IReadOnlyList<string> VariantNames { get; } = ["no_kd", "logit_kd", "vkd"];

    /// <summary>The training options of <paramref name="variant"/>.</summary>
    public static TrainingOptions VariantOptions(QuickstartOptions q, string variant)
    {
        var o = new TrainingOptions
        {
            StudentModel = q.Student,
            Teacher = q.Teacher,
            TeacherPath = q.TeacherPath,
            DataSet = "fashion-mnist",
            DataPath = q.DataPath,
            BatchSize = q.BatchSize,
            Epochs = q.Epochs,
            Lr = 2e-3,
            MinLr = 1e-5,
            WeightDecay = 0.05,
            Mixup = 0,
            Cutmix = 0,
            Smoothing = 0.1,
            Seed = q.Seed,
            Threads = q.Threads,
            TrainSubset = q.TrainSubset,
            EvalSubset = q.EvalSubset,
            SaveEvery = 0,
            NumWorkers = 1,
            OutputDir = Path.Combine(q.OutputDir, variant),
        };
        switch (variant)
        {
            case "no_kd":
                o.Alpha = 0;
                o.Gamma = 0;
                break;
            case "logit_kd":
                o.Alpha = 0;
                o.Gamma = 1;
                break;
            case "vkd":
                o.Alpha = 1;
                o.Gamma = 1;
                o.Projector = "householder";
                o.Norm = "layernorm";
                break;
            default:
                throw new ArgumentException($"Unknown quickstart variant '{variant}'; use {string.Join(", ", VariantNames)}.");
        }
        return o;
    }

    /// <summary>Runs the variants; <paramref name="observerFor"/> gives a progress observer per variant.</summary>
    public static IReadOnlyList<QuickstartRow> Run(QuickstartOptions q, Func<string, ITrainingObserver>? observerFor = null)
    {
        if (!Directory.Exists(q.DataPath))
        {
            throw new ArgumentException($"Quickstart data folder '{q.DataPath}' is missing (it ships in assets/).");
        }
        if (!File.Exists(q.TeacherPath))
        {
            throw new ArgumentException($"Quickstart teacher '{q.TeacherPath}' is missing (it ships in assets/).");
        }
        var rows = new List<QuickstartRow>();
        foreach (var variant in q.Variants)
        {
            var o = VariantOptions(q, variant);
            var watch = Stopwatch.StartNew();
            var result = TrainingSession.Run(SessionKind.Distill, o, observerFor?.Invoke(variant));
            rows.Add(new QuickstartRow(variant, Describe(variant), result.Final?.Acc1 ?? double.NaN, result.Final?.Acc5 ?? double.NaN,
                watch.Elapsed.TotalSeconds, o.OutputDir));
        }
        WriteReport(q, rows);
        return rows;
    }

    /// <summary>What each variant adds.</summary>
    public static string Describe(string variant) => variant switch
    {
        "no_kd" => "cross-entropy only",
        "logit_kd" => "+ KL to teacher logits (gamma=1, T=1)",
        "vkd" => "+ orthogonal projector, LN teacher features (alpha=1)",
        _ => variant,
    };

    /// <summary>Markdown table of <paramref name="rows"/>.</summary>
    public static string Table(IReadOnlyList<QuickstartRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| variant | what it adds | top-1 (%) | top-5 (%) | time (s) |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var r in rows)
        {
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Variant} | {r.Description} | {r.Acc1:F2} | {r.Acc5:F2} | {r.Seconds:F0} |"));
        }
        return sb.ToString();
    }

    private static void WriteReport(QuickstartOptions q, IReadOnlyList<QuickstartRow> rows)
    {
        Directory.CreateDirectory(q.OutputDir);
        var md = new StringBuilder();
        md.AppendLine("# VkD.NET quickstart");
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Teacher `{q.Teacher}` ({q.TeacherPath}) distilled into `{q.Student}` on the shipped Fashion-MNIST subset, {q.Epochs} epochs, batch {q.BatchSize}, seed {q.Seed}."));
        md.AppendLine();
        md.Append(Table(rows));
        md.AppendLine();
        md.AppendLine("Each variant's folder holds its checkpoints, iterations.csv, epochs.csv, summary.json, config.json, loss.png and accuracy.png.");
        md.AppendLine("One seed on 1000 test images: differences below about 1.5 points are within noise (see docs/results.md for a multi-seed comparison).");
        AtomicFile.WriteAllText(Path.Combine(q.OutputDir, "quickstart.md"), md.ToString());
        AtomicFile.WriteAllText(Path.Combine(q.OutputDir, "quickstart.json"),
            JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
    }
}
