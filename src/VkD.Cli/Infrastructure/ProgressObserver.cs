using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using VkD.Training.Loop;

namespace VkD.Cli.Infrastructure;

/// <summary>
/// Shows training progress: a Spectre.Console progress bar with ETA and images/s on a terminal, or one plain line every
/// few iterations (and per epoch) when output is redirected, so logs stay readable.
/// </summary>
public sealed class ProgressObserver : ITrainingObserver
{
    private readonly IAnsiConsole _console;
    private readonly ProgressContext? _context;
    private readonly string _label;
    private readonly Stopwatch _rateWatch = new();
    private ProgressTask? _task;
    private int _epochs;
    private long _imagesSinceStart;
    private long _stepsDone;
    private long _stepsTotal;
    private long _stepsAtStart;

    /// <summary>Creates the observer; <paramref name="context"/> is null for plain-line output.</summary>
    public ProgressObserver(IAnsiConsole console, ProgressContext? context, string label = "")
    {
        _console = console;
        _context = context;
        _label = label;
    }

    /// <summary>Plain lines are printed every this many iterations (and at epoch ends).</summary>
    public int PrintEvery { get; init; } = 20;

    /// <summary>Runs <paramref name="body"/> with an observer that fits the console (progress bars or plain lines).</summary>
    public static T Run<T>(string label, Func<ProgressObserver, T> body)
    {
        var console = CliConsole.Current;
        if (!CliConsole.IsInteractive)
        {
            return body(new ProgressObserver(console, null, label));
        }
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => body(new ProgressObserver(console, ctx, label)));
    }

    /// <inheritdoc />
    public void OnStart(int epochs, int itersPerEpoch, int startEpoch, int startIteration)
    {
        _epochs = epochs;
        _stepsTotal = (long)epochs * itersPerEpoch;
        _stepsDone = (long)startEpoch * itersPerEpoch + startIteration;
        _stepsAtStart = _stepsDone;
        _rateWatch.Restart();
        _imagesSinceStart = 0;
        if (_context is not null)
        {
            _task = _context.AddTask(Describe(startEpoch, 0, 0), maxValue: _stepsTotal);
            _task.Value = _stepsDone;
        }
        else
        {
            Plain($"training: {epochs} epochs x {itersPerEpoch} iterations" + (_stepsDone > 0 ? $", resuming at epoch {startEpoch + 1} iteration {startIteration + 1}" : ""));
        }
    }

    /// <inheritdoc />
    public void OnIteration(IterationReport r)
    {
        _stepsDone++;
        _imagesSinceStart += r.Images;
        var rate = _imagesSinceStart / Math.Max(1e-9, _rateWatch.Elapsed.TotalSeconds);
        if (_task is not null)
        {
            _task.Value = _stepsDone;
            _task.Description = Describe(r.Epoch, r.Total, rate);
        }
        else if ((r.Iteration + 1) % PrintEvery == 0 || r.Iteration + 1 == r.ItersPerEpoch)
        {
            Plain(string.Create(CultureInfo.InvariantCulture,
                $"epoch {r.Epoch + 1}/{_epochs} iter {r.Iteration + 1}/{r.ItersPerEpoch} lr {r.Lr:0.###e+0} {Terms(r)}total {r.Total:F4} | {rate:F1} img/s | eta {Eta()}"));
        }
    }

    /// <inheritdoc />
    public void OnEvaluating(int epoch)
    {
        if (_task is not null)
        {
            _task.Description = $"{Prefix()}epoch {epoch + 1}/{_epochs} evaluating...";
        }
    }

    /// <inheritdoc />
    public void OnEpochEnd(EpochReport r)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"epoch {r.Epoch + 1}/{_epochs} done in {r.Seconds:F1}s: train loss {r.TrainLoss:F4}");
        if (r.Eval is not null)
        {
            line += ", " + Metrics(r.Eval, "");
        }
        if (r.EmaEval is not null)
        {
            line += ", " + Metrics(r.EmaEval, "ema ");
        }
        Plain(line);
    }

    /// <inheritdoc />
    public void OnMessage(string message) => Plain(message);

    private static string Terms(IterationReport r) =>
        string.Concat(r.Terms.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name} {t.Value:F4} ")));

    // Accuracies are percentages (acc1 76.90%); everything else prints as a plain number.
    private static string Metrics(MetricSet m, string prefix) => string.Join(" ", m.Values.Select(kv =>
        kv.Key.StartsWith("acc", StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"{prefix}{kv.Key} {kv.Value:F2}%")
            : string.Create(CultureInfo.InvariantCulture, $"{prefix}{kv.Key} {kv.Value:F4}")));

    // Training steps only: evaluation time is not in the rate, so the ETA is a slight underestimate with evaluation on.
    private string Eta()
    {
        var stepsThisRun = _stepsDone - _stepsAtStart;
        if (stepsThisRun <= 0)
        {
            return "?";
        }
        var perStep = _rateWatch.Elapsed.TotalSeconds / stepsThisRun;
        return TimeSpan.FromSeconds(perStep * (_stepsTotal - _stepsDone)).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture);
    }

    private string Describe(int epoch, double loss, double rate) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix()}epoch {epoch + 1}/{_epochs} loss {loss:F3} {rate:F0} img/s");

    private string Prefix() => _label.Length > 0 ? Markup.Escape(_label) + " " : "";

    private void Plain(string text)
    {
        var line = (_label.Length > 0 ? $"[{_label}] " : "") + text;
        if (_context is not null)
        {
            _console.MarkupLine(Markup.Escape(line));
        }
        else
        {
            // Straight to the writer: redirected output must not be wrapped at the console's default 80 columns.
            _console.Profile.Out.Writer.WriteLine(line);
            _console.Profile.Out.Writer.Flush();
        }
    }
}
