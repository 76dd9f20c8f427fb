using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Generation.Training;
using VkD.Training.Loop;

namespace VkD.Cli.Commands;

/// <summary><c>vkd gan train</c>: DiffAugment-BigGAN + LeCam on the data, no distillation.</summary>
public sealed class GanTrainCommand : Command<GanTrainSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, GanTrainSettings settings, CancellationToken cancellationToken) =>
        GanRunner.Train(settings.ToOptions());
}

/// <summary><c>vkd gan distill</c>: the same GAN with D distilled from a frozen encoder (projector + teacher norm).</summary>
public sealed class GanDistillCommand : Command<GanDistillSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, GanDistillSettings settings, CancellationToken cancellationToken) =>
        GanRunner.Train(settings.ToOptions());
}

/// <summary><c>vkd gan eval</c>: FID and KID of a checkpoint's generator against the test split.</summary>
public sealed class GanEvalCommand : Command<GanEvalSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, GanEvalSettings settings, CancellationToken cancellationToken)
    {
        var o = settings.Apply(new GanRunOptions());
        var m = ProgressObserver.Run("", observer => GanSession.Evaluate(o, settings.Ckpt!, settings.Ema == true, observer));
        CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
            $"FID {m["fid"]:F3}, KID {m["kid"]:F5} ± {m["kid_std"]:F5} ({m.Count} samples, features {(o.FidFeatures.Length > 0 ? o.FidFeatures : "the shipped classifier of the data")})."));
        if (!string.IsNullOrEmpty(settings.Output))
        {
            var json = new Dictionary<string, object> { ["checkpoint"] = settings.Ckpt!, ["ema"] = settings.Ema == true, ["samples"] = m.Count };
            foreach (var (k, v) in m.Values)
            {
                json[k] = v;
            }
            File.WriteAllText(settings.Output, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }
}

/// <summary><c>vkd gan sample</c>: a PNG grid of a checkpoint's generator, one row per class.</summary>
public sealed class GanSampleCommand : Command<GanSampleSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, GanSampleSettings settings, CancellationToken cancellationToken)
    {
        var output = settings.Out ?? "grid.png";
        GanSession.Sample(settings.Ckpt!, output, settings.Ema == true, settings.PerClass ?? 10, settings.Seed ?? 77);
        CliConsole.Line($"Wrote {Path.GetFullPath(output)}.");
        return 0;
    }
}

/// <summary>Runs GAN training with progress and the stop-on-signal behaviour of <c>vkd train</c>.</summary>
internal static class GanRunner
{
    public static int Train(GanRunOptions options)
    {
        using var stop = new CancellationTokenSource();
        var signal = 0;
        void OnSignal(PosixSignalContext c)
        {
            if (stop.IsCancellationRequested)
            {
                return;
            }
            c.Cancel = true;
            signal = c.Signal == PosixSignal.SIGTERM ? TrainingCommandRunner.Terminated : TrainingCommandRunner.Interrupted;
            CliConsole.Warn($"{c.Signal} received: stopping after the current step and saving the position (send it again to stop at once).");
            stop.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        GanRunResult result;
        try
        {
            result = ProgressObserver.Run("", observer => GanSession.Train(options, observer, stop.Token));
        }
        catch (TrainingInterruptedException e)
        {
            CliConsole.Error(e.Message);
            return signal == 0 ? TrainingCommandRunner.Interrupted : signal;
        }
        CliConsole.Line(GanSession.Describe(result));
        if (options.OutputDir.Length > 0)
        {
            CliConsole.Line($"Outputs in {Path.GetFullPath(options.OutputDir)} (samples_epoch*.png, {GanSession.FinalGrid}, {GanSession.FidPlot}).");
        }
        return 0;
    }
}
