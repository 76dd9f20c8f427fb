using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Training.Sessions;

namespace VkD.Cli.Commands;

/// <summary>Flags of <c>vkd quickstart</c> (all optional).</summary>
public sealed class QuickstartSettings : CommandSettings
{
    /// <summary>--output-dir.</summary>
    [CommandOption("--output-dir|--output_dir <DIR>"), Description("Where the three runs and the summary go (default ./vkd-quickstart).")]
    public string? OutputDir { get; set; }

    /// <summary>--epochs.</summary>
    [CommandOption("--epochs <N>"), Description("Epochs per variant (default 4).")]
    public int? Epochs { get; set; }

    /// <summary>--train-subset.</summary>
    [CommandOption("--train-subset <N>"), Description("Use only N of the 4000 shipped training images (quicker, noisier).")]
    public int? TrainSubset { get; set; }

    /// <summary>--eval-subset.</summary>
    [CommandOption("--eval-subset <N>"), Description("Use only N of the 1000 shipped test images.")]
    public int? EvalSubset { get; set; }

    /// <summary>--batch-size.</summary>
    [CommandOption("--batch-size <N>"), Description("Batch size (default 64).")]
    public int? BatchSize { get; set; }

    /// <summary>--seed.</summary>
    [CommandOption("--seed <N>"), Description("Seed (default 0).")]
    public int? Seed { get; set; }

    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>"), Description("Intra-op threads (0 = default).")]
    public int? Threads { get; set; }

    /// <summary>--variants.</summary>
    [CommandOption("--variants <LIST>"), Description("Comma-separated subset of no_kd,logit_kd,vkd (default all).")]
    public string? Variants { get; set; }

    /// <summary>--assets.</summary>
    [CommandOption("--assets <DIR>", IsHidden = true), Description("Folder holding the shipped data and teacher.")]
    public string? Assets { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        Epochs is <= 0 || BatchSize is <= 0 || TrainSubset is < 0 || EvalSubset is < 0
            ? ValidationResult.Error("--epochs and --batch-size must be positive; subsets >= 0.")
            : ValidationResult.Success();
}

/// <summary><c>vkd quickstart</c>: the README's main command.</summary>
public sealed class QuickstartCommand : Command<QuickstartSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, QuickstartSettings s, CancellationToken cancellationToken)
    {
        TrainingSession.EnsureRegistered();
        var assets = s.Assets ?? FindAssets();
        var q = new QuickstartOptions
        {
            DataPath = Path.Combine(assets, "fashion-mnist-mini"),
            TeacherPath = Path.Combine(assets, "teachers", "resnet32_fmnist_mini.pth"),
            OutputDir = s.OutputDir ?? "vkd-quickstart",
            Epochs = s.Epochs ?? Quickstart.DefaultEpochs,
            BatchSize = s.BatchSize ?? 64,
            TrainSubset = s.TrainSubset ?? 0,
            EvalSubset = s.EvalSubset ?? 0,
            Seed = s.Seed ?? 0,
            Threads = s.Threads ?? 0,
            Variants = s.Variants is null ? Quickstart.VariantNames : s.Variants.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
        var console = CliConsole.Current;
        CliConsole.Line($"VkD quickstart: teacher {q.Teacher} -> student {q.Student}, {q.Epochs} epochs each, variants {string.Join(", ", q.Variants)}.");
        var rows = ProgressObserver.Run("", observer => Quickstart.Run(q, v => new VariantObserver(observer, v)));
        var table = new Table().AddColumns("variant", "what it adds", "top-1 (%)", "top-5 (%)", "time (s)");
        foreach (var r in rows)
        {
            table.AddRow(r.Variant, Markup.Escape(r.Description), r.Acc1.ToString("F2", CultureInfo.InvariantCulture),
                r.Acc5.ToString("F2", CultureInfo.InvariantCulture), r.Seconds.ToString("F0", CultureInfo.InvariantCulture));
        }
        console.Write(table);
        CliConsole.Line($"Report: {Path.GetFullPath(Path.Combine(q.OutputDir, "quickstart.md"))} (per-variant logs, plots and checkpoints alongside).");
        return 0;
    }

    // The assets ship next to the executable (copied at build); a source checkout also works from the repo root.
    private static string FindAssets()
    {
        foreach (var candidate in new[] { Path.Combine(AppContext.BaseDirectory, "assets"), Path.Combine(Directory.GetCurrentDirectory(), "assets") })
        {
            if (Directory.Exists(Path.Combine(candidate, "fashion-mnist-mini")))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("The quickstart assets (assets/fashion-mnist-mini, assets/teachers) were not found next to vkd or in the current folder; pass --assets DIR.");
    }

    /// <summary>Prefixes progress lines with the variant name.</summary>
    private sealed class VariantObserver(ProgressObserver inner, string variant) : VkD.Training.Loop.ITrainingObserver
    {
        public void OnStart(int epochs, int itersPerEpoch, int startEpoch, int startIteration)
        {
            inner.OnMessage($"--- {variant}: {Quickstart.Describe(variant)} ---");
            inner.OnStart(epochs, itersPerEpoch, startEpoch, startIteration);
        }

        public void OnIteration(VkD.Training.Loop.IterationReport report) => inner.OnIteration(report);

        public void OnEvaluating(int epoch) => inner.OnEvaluating(epoch);

        public void OnEpochEnd(VkD.Training.Loop.EpochReport report) => inner.OnEpochEnd(report);

        public void OnMessage(string message) => inner.OnMessage(message);
    }
}
