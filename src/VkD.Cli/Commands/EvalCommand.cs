using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Training.Sessions;

namespace VkD.Cli.Commands;

/// <summary>Flags of <c>vkd eval</c>.</summary>
public sealed class EvalSettings : CommandSettings
{
    /// <summary>--model.</summary>
    [CommandOption("--model|--student-model <MODEL>"), Description("Zoo model name (default: the one recorded in the checkpoint).")]
    public string? Model { get; set; }

    /// <summary>--student-ckpt.</summary>
    [CommandOption("--student-ckpt|--checkpoint <CKPT>"), Description("Checkpoint to evaluate (VkD.NET, reference, timm or plain state dict).")]
    public string? Checkpoint { get; set; }

    /// <summary>--eval-student (the reference's switch into evaluation; implied here).</summary>
    [CommandOption("--eval-student"), Description("Accepted as in the reference (evaluation is what this command does).")]
    public bool? EvalStudent { get; set; }

    /// <summary>--ema.</summary>
    [CommandOption("--ema"), Description("Evaluate the checkpoint's student_ema instead of student.")]
    public bool? Ema { get; set; }

    /// <summary>--teacher (accepted and unused, as in the reference's evaluate.py).</summary>
    [CommandOption("--teacher <MODEL>", IsHidden = true)]
    public string? Teacher { get; set; }

    /// <summary>--data-path.</summary>
    [CommandOption("--data-path <DIR>"), Description("Dataset root.")]
    public string? DataPath { get; set; }

    /// <summary>--data-set.</summary>
    [CommandOption("--data-set <KIND>"), Description("Dataset kind (default auto).")]
    public string? DataSet { get; set; }

    /// <summary>--input-size.</summary>
    [CommandOption("--input-size <PX>"), Description("Input side (default: from the checkpoint, else the dataset's).")]
    public int? InputSize { get; set; }

    /// <summary>--batch-size.</summary>
    [CommandOption("--batch-size <N>"), Description("Images per batch (default 256).")]
    public int? BatchSize { get; set; }

    /// <summary>--num-workers.</summary>
    [CommandOption("--num-workers|--num_workers <N>"), Description("Loader threads.")]
    public int? NumWorkers { get; set; }

    /// <summary>--eval-subset.</summary>
    [CommandOption("--eval-subset <N>"), Description("Only the first N images (0 = all).")]
    public int? EvalSubset { get; set; }

    /// <summary>--json.</summary>
    [CommandOption("--json <FILE>"), Description("Write the metrics as JSON.")]
    public string? Json { get; set; }

    /// <summary>--predictions.</summary>
    [CommandOption("--predictions <FILE>"), Description("Write a CSV row per image: index, source, label, pred, top5.")]
    public string? Predictions { get; set; }

    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>"), Description("Intra-op threads (0 = default).")]
    public int? Threads { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Checkpoint))
        {
            return ValidationResult.Error("Pass the weights to evaluate with --student-ckpt <file> (or --checkpoint).");
        }
        if (string.IsNullOrEmpty(DataPath))
        {
            return ValidationResult.Error("Pass the dataset with --data-path.");
        }
        if (BatchSize is <= 0)
        {
            return ValidationResult.Error($"--batch-size must be positive, got {BatchSize}.");
        }
        return ValidationResult.Success();
    }
}

/// <summary><c>vkd eval</c>: top-1/top-5/loss of a checkpoint on a dataset's evaluation split.</summary>
public sealed class EvalCommand : Command<EvalSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, EvalSettings s, CancellationToken cancellationToken)
    {
        if (s.Threads is > 0)
        {
            TorchSharp.torch.set_num_threads(s.Threads.Value);
        }
        var request = new EvalRequest
        {
            Model = s.Model ?? "",
            Checkpoint = s.Checkpoint!,
            Ema = s.Ema == true,
            DataSet = s.DataSet ?? "auto",
            DataPath = s.DataPath!,
            InputSize = s.InputSize ?? 0,
            BatchSize = s.BatchSize ?? 256,
            NumWorkers = s.NumWorkers ?? 2,
            EvalSubset = s.EvalSubset ?? 0,
            JsonPath = s.Json,
            PredictionsPath = s.Predictions,
        };
        var outcome = EvaluationSession.Run(request);
        var m = outcome.Metrics;
        if (!outcome.IsMain)
        {
            return 0;
        }
        if (!outcome.Report.IsExact)
        {
            CliConsole.Warn(outcome.Report.Describe());
        }
        if (outcome.Ranks > 1)
        {
            CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
                $"evaluated in shards of whole batches over {outcome.Ranks} ranks, gathered to rank 0"));
        }
        CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
            $"{outcome.Model} on {m.Count} images: top-1 {m.Acc1:F2}%  top-5 {m.Acc5:F2}%  loss {m.Loss:F4}"));
        return 0;
    }
}
