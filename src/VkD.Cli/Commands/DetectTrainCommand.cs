using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Detection.Evaluation;
using VkD.Detection.Training;
using VkD.Training.Loop;

namespace VkD.Cli.Commands;

/// <summary><c>vkd detect train</c>: ViDT's <c>main.py</c> training (distilling too when <c>--distil_model</c> is given,
/// as ViDT does).</summary>
public sealed class DetectTrainCommand : Command<DetectTrainSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, DetectTrainSettings settings, CancellationToken cancellationToken) =>
        DetectTrainRunner.Run(settings, "ViDT train");
}

/// <summary><c>vkd detect distill</c>: ViDT training from a frozen ViDT teacher, VkD's distillation by default.</summary>
public sealed class DetectDistillCommand : Command<DetectDistillSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, DetectDistillSettings settings, CancellationToken cancellationToken) =>
        DetectTrainRunner.Run(settings, "ViDT distill");
}

/// <summary>Shared body of <c>detect train</c> and <c>detect distill</c>: the run with progress and signal handling,
/// or with <c>--eval True</c> ViDT's evaluation of <c>--resume</c>.</summary>
internal static class DetectTrainRunner
{
    public static int Run(DetectTrainSettings settings, string label)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = settings.ResolveRun();
        if (DetectTrainSettings.ParseBool(settings.Eval) == true)
        {
            return Evaluate(settings, options);
        }
        // SIGINT and SIGTERM stop the run at the next step boundary with its position saved; a second signal is left to
        // the default handler, which ends the process at once.
        using var stop = new CancellationTokenSource();
        var signal = 0;
        void OnSignal(PosixSignalContext c)
        {
            if (stop.IsCancellationRequested)
            {
                return;
            }
            c.Cancel = true;
            signal = c.Signal == PosixSignal.SIGTERM ? 143 : 130;
            CliConsole.Warn($"{c.Signal} received: stopping after the current step and saving the position (send it again to stop at once).");
            stop.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        DetectionTrainingResult result;
        try
        {
            result = ProgressObserver.Run(label, observer =>
            {
                var shown = settings.PrintFreq is int every ? new ProgressObserver(CliConsole.Current, null, label) { PrintEvery = every } : null;
                return DetectionTraining.Run(options, CliConsole.IsInteractive || shown is null ? observer : shown, stop: stop.Token);
            });
        }
        catch (TrainingInterruptedException e)
        {
            CliConsole.Error(e.Message);
            return signal == 0 ? 130 : signal;
        }
        var loop = result.Loop;
        var line = string.Create(CultureInfo.InvariantCulture, $"Finished {loop.EpochsDone} epochs in {loop.Seconds:F1}s.");
        if (loop.Final is { } final)
        {
            line += string.Create(CultureInfo.InvariantCulture, $" Final AP {final["AP"]:F4}, AP50 {final["AP50"]:F4}, AP75 {final["AP75"]:F4} on {final.Count} val images");
        }
        if (loop.Best is { } best)
        {
            line += string.Create(CultureInfo.InvariantCulture, $"; best AP {best["AP"]:F4} (epoch {loop.BestEpoch + 1})");
        }
        CliConsole.Line(line + ".");
        if (options.OutputDir.Length > 0)
        {
            CliConsole.Line($"Outputs in {Path.GetFullPath(options.OutputDir)}" + (result.VidtCheckpointPath is { } p ? $"; ViDT-layout weights: {p}" : ""));
        }
        return 0;
    }

    // ViDT's main.py --eval True: the --resume weights on the val set, pycocotools' 12 lines.
    private static int Evaluate(DetectTrainSettings settings, DetectionTrainingOptions options)
    {
        if (options.Threads > 0)
        {
            TorchSharp.torch.set_num_threads(options.Threads);
        }
        var layout = DetectionDataLayout.Resolve(options.CocoPath);
        var outputDir = options.OutputDir.Length > 0 ? options.OutputDir : ".";
        var evaluation = new VidtEvaluationOptions
        {
            CheckpointPath = settings.Resume!,
            CocoPath = options.CocoPath,
            AnnotationsPath = layout.ValAnnotations,
            ImageRoot = layout.ValImages,
            Config = options.Model,
            EvalSize = options.EvalSize,
            BatchSize = options.EvalBatchSize,
            MaxImages = options.EvalSubset,
            ResultsPath = Path.Combine(outputDir, "coco_results.json"),
            StatsPath = Path.Combine(outputDir, "coco_stats.json"),
            Device = options.Device,
        };
        CliConsole.Line($"ViDT eval: {evaluation.CheckpointPath}, {layout.ValAnnotations}, images in {layout.ValImages}, eval size {evaluation.EvalSize}");
        var result = DetectVidtProgress.Run("ViDT eval", report => VidtEvaluation.Run(evaluation, report));
        CliConsole.Line($"checkpoint {result.Report.Describe()}");
        foreach (var summary in result.Evaluation.Summary)
        {
            CliConsole.Line(summary.Line);
        }
        CliConsole.Line($"wrote {evaluation.ResultsPath} and {evaluation.StatsPath}");
        return 0;
    }
}
