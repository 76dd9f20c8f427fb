using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Training.Loop;
using VkD.Training.Options;
using VkD.Training.Sessions;

namespace VkD.Cli.Commands;

/// <summary><c>vkd distill</c>: trains a student from a frozen teacher with CE + gamma·KD + alpha·VkD feature loss.</summary>
public sealed class DistillCommand : Command<DistillSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, DistillSettings settings, CancellationToken cancellationToken)
    {
        var options = OptionsResolver.Resolve(settings, new TrainingOptions(), CliConsole.Warn);
        return TrainingCommandRunner.Run(SessionKind.Distill, options);
    }
}

/// <summary><c>vkd train</c>: supervised training of any zoo model (teachers, no-KD baselines).</summary>
public sealed class TrainCommand : Command<TrainSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, TrainSettings settings, CancellationToken cancellationToken)
    {
        var options = OptionsResolver.Resolve(settings, new TrainingOptions(), CliConsole.Warn);
        return TrainingCommandRunner.Run(SessionKind.Train, options);
    }
}

/// <summary>Shared body of <c>train</c> and <c>distill</c>: run with progress, then print the outcome.</summary>
internal static class TrainingCommandRunner
{
    /// <summary>Exit code after SIGINT (128 + 2), as shells report an interrupted program.</summary>
    public const int Interrupted = 130;

    /// <summary>Exit code after SIGTERM (128 + 15).</summary>
    public const int Terminated = 143;

    public static int Run(SessionKind kind, TrainingOptions options)
    {
        TrainingSession.EnsureRegistered();
        using var signals = new StopOnSignal("after the current step and saving the position");
        TrainingResult result;
        try
        {
            result = ProgressObserver.Run("", observer => TrainingSession.Run(kind, options, observer, stop: signals.Token));
        }
        catch (TrainingInterruptedException e)
        {
            CliConsole.Error(e.Message);
            return signals.ExitCode == 0 ? Interrupted : signals.ExitCode;
        }
        var line = string.Create(CultureInfo.InvariantCulture, $"Finished {result.EpochsDone} epochs in {result.Seconds:F1}s.");
        if (result.Final is not null)
        {
            line += string.Create(CultureInfo.InvariantCulture, $" Final top-1 {result.Final.Acc1:F2}%, top-5 {result.Final.Acc5:F2}%");
        }
        if (result.Best is not null)
        {
            line += string.Create(CultureInfo.InvariantCulture, $"; best top-1 {result.Best.Acc1:F2}% (epoch {result.BestEpoch + 1})");
        }
        if (result.FinalEma is not null)
        {
            line += string.Create(CultureInfo.InvariantCulture, $"; EMA top-1 {result.FinalEma.Acc1:F2}%");
        }
        CliConsole.Line(line + ".");
        if (options.OutputDir.Length > 0)
        {
            CliConsole.Line($"Outputs in {Path.GetFullPath(options.OutputDir)}");
        }
        return 0;
    }
}
