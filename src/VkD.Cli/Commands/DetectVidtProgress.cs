using System.Globalization;
using Spectre.Console;
using VkD.Cli.Infrastructure;
using VkD.Detection.Evaluation;

namespace VkD.Cli.Commands;

/// <summary>
/// Progress of a ViDT evaluation: on a terminal a Spectre.Console bar with images/s in its description and the ETA
/// column (the style of <see cref="ProgressObserver"/>); redirected, one plain line every <see cref="PlainEvery"/>
/// images and at the end, so logs stay readable.
/// </summary>
public static class DetectVidtProgress
{
    /// <summary>Plain lines are printed every this many images when output is redirected.</summary>
    public const int PlainEvery = 50;

    /// <summary>Runs <paramref name="body"/>, handing it the callback that shows its progress.</summary>
    public static T Run<T>(string label, Func<Action<VidtEvaluationProgress>, T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var console = CliConsole.Current;
        if (!CliConsole.IsInteractive)
        {
            var printed = 0;
            return body(p =>
            {
                if (p.ImagesDone - printed >= PlainEvery || p.ImagesDone == p.ImagesTotal)
                {
                    printed = p.ImagesDone;
                    var writer = console.Profile.Out.Writer;
                    writer.WriteLine($"[{label}] {Describe(p)}");
                    writer.Flush();
                }
            });
        }
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                return body(p =>
                {
                    task ??= ctx.AddTask(Markup.Escape(label), maxValue: Math.Max(1, p.ImagesTotal));
                    task.Value = p.ImagesDone;
                    task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{label} {p.ImagesDone}/{p.ImagesTotal} images {p.ImagesPerSecond:F1} img/s"));
                });
            });
    }

    /// <summary>"done/total images | rate img/s | eta hh:mm:ss".</summary>
    public static string Describe(VidtEvaluationProgress p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return string.Create(CultureInfo.InvariantCulture,
            $"{p.ImagesDone}/{p.ImagesTotal} images | {p.ImagesPerSecond:F2} img/s | eta {p.Remaining.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture)}");
    }
}
