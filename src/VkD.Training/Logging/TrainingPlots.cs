using System.Globalization;
using System.Reflection;
using ScottPlot;

namespace VkD.Training.Logging;

/// <summary>
/// Draws the run's PNG plots from its CSV logs: <c>loss.png</c> (per-iteration loss terms, smoothed, and the learning
/// rate) and <c>accuracy.png</c> (per-epoch metrics, EMA included when present, and the validation loss). Uses the DejaVu Sans font shipped inside
/// this assembly, so plotting works on a headless machine without any system fonts.
/// </summary>
public static class TrainingPlots
{
    private const string FontName = "DejaVu Sans (VkD)";
    private static readonly Lock FontLock = new();
    private static bool _fontRegistered;

    /// <summary>Writes loss.png and accuracy.png into <paramref name="outputDir"/> from its iterations.csv and
    /// epochs.csv; returns the files written.</summary>
    public static IReadOnlyList<string> Write(string outputDir)
    {
        EnsureFont();
        var written = new List<string>();
        foreach (var (plot, name) in new[] { (LossPlot(outputDir), RunFiles.LossPlot), (EvaluationPlot(outputDir), RunFiles.AccuracyPlot) })
        {
            if (plot is not null)
            {
                var file = Path.Combine(outputDir, name);
                plot.SavePng(file, 1000, 500);
                written.Add(file);
            }
        }
        return written;
    }

    /// <summary>
    /// The training-loss plot: every loss column of iterations.csv (the task's term names, total first; smoothed)
    /// against the epoch (fractional within an epoch), and the learning rate on the right axis. Null without rows.
    /// </summary>
    public static Plot? LossPlot(string outputDir)
    {
        var path = Path.Combine(outputDir, RunFiles.IterationsCsv);
        var rows = File.Exists(path) ? CsvLog.Read(path) : [];
        if (rows.Count == 0)
        {
            return null;
        }
        EnsureFont();
        // Position in epochs: epoch + itr / (iterations of that epoch), so runs of any length read the same way.
        var perEpoch = rows.GroupBy(r => Parse(r.GetValueOrDefault("epoch"))).ToDictionary(g => g.Key, g => g.Max(r => Parse(r.GetValueOrDefault("itr"))) + 1);
        var x = rows.Select(r =>
        {
            var e = Parse(r.GetValueOrDefault("epoch"));
            return e + (Parse(r.GetValueOrDefault("itr")) / perEpoch[e]);
        }).ToArray();
        var plot = NewPlot("Training loss", "epoch", "loss");
        var header = File.ReadLines(path).First().Split(',');
        var columns = header.Where(c => c == "total").Concat(header.Where(c => c is not ("epoch" or "itr" or "lr" or "total" or "seconds")));
        foreach (var column in columns)
        {
            var y = rows.Select(r => Parse(r.GetValueOrDefault(column))).ToArray();
            if (y.All(v => double.IsNaN(v) || v == 0))
            {
                continue;
            }
            var line = plot.Add.ScatterLine(x, Smooth(y, Math.Max(1, rows.Count / 50)));
            line.LegendText = column;
            line.LineWidth = 1.5f;
        }
        var lr = rows.Select(r => Parse(r.GetValueOrDefault("lr"))).ToArray();
        if (lr.Any(double.IsFinite))
        {
            var lrLine = plot.Add.ScatterLine(x, lr);
            lrLine.LineWidth = 1f;
            lrLine.Color = Colors.Gray;
            OnRightAxis(plot, lrLine, "lr", "learning rate");
        }
        return Finish(plot);
    }

    /// <summary>
    /// The evaluation plot: every metric of epochs.csv per evaluated epoch (1-based, whole-number ticks), EMA metrics
    /// included, with the validation and training losses on the right axis. Null without an evaluated epoch.
    /// </summary>
    public static Plot? EvaluationPlot(string outputDir)
    {
        var path = Path.Combine(outputDir, RunFiles.EpochsCsv);
        if (!File.Exists(path))
        {
            return null;
        }
        var header = File.ReadLines(path).First().Split(',');
        var metrics = header.Where(c => c is not ("epoch" or "train_loss" or "lr" or "seconds")).ToList();
        var rows = CsvLog.Read(path).Where(r => metrics.Any(m => !double.IsNaN(Parse(r.GetValueOrDefault(m))))).ToList();
        if (rows.Count == 0)
        {
            return null;
        }
        EnsureFont();
        var x = rows.Select(r => Parse(r["epoch"]) + 1).ToArray();
        var left = metrics.Where(m => !m.Contains("loss", StringComparison.Ordinal)).ToList();
        var plot = NewPlot("Evaluation", "epoch", left.Any(m => m.Contains("acc", StringComparison.Ordinal)) ? "accuracy (%)" : "metric");
        foreach (var column in metrics.Append("train_loss"))
        {
            var y = rows.Select(r => Parse(r.GetValueOrDefault(column))).ToArray();
            if (y.All(double.IsNaN))
            {
                continue;
            }
            var onRight = !left.Contains(column);
            var line = plot.Add.Scatter(x, y);
            line.LegendText = column;
            line.MarkerSize = 5;
            if (onRight)
            {
                OnRightAxis(plot, line, column, "loss");
            }
        }
        return Finish(plot);
    }

    private static void OnRightAxis(Plot plot, ScottPlot.Plottables.Scatter line, string name, string axisLabel)
    {
        line.LegendText = $"{name} (right axis)";
        line.LinePattern = LinePattern.Dashed;
        line.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Right.Label.Text = axisLabel;
    }

    // Whole epochs on the x axis, and the legend outside the data area: inside, it hid the start of the curves.
    private static Plot Finish(Plot plot)
    {
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    /// <summary>Registers the bundled font as ScottPlot's default (idempotent).</summary>
    public static void EnsureFont()
    {
        lock (FontLock)
        {
            if (_fontRegistered)
            {
                return;
            }
            // ScottPlot takes fonts by file path, so the embedded TTF is materialised once in the temp folder.
            var dir = Path.Combine(Path.GetTempPath(), "vkd-fonts");
            Directory.CreateDirectory(dir);
            var file = Path.Combine(dir, "DejaVuSans-2.37.ttf");
            if (!File.Exists(file))
            {
                using var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("VkD.Training.Fonts.DejaVuSans.ttf")
                    ?? throw new InvalidOperationException("The bundled font VkD.Training.Fonts.DejaVuSans.ttf is missing from the assembly.");
                var tmp = file + "." + Environment.ProcessId + ".tmp";
                using (var f = File.Create(tmp))
                {
                    resource.CopyTo(f);
                }
                File.Move(tmp, file, overwrite: true);
            }
            Fonts.AddFontFile(FontName, file);
            Fonts.Default = FontName;
            _fontRegistered = true;
        }
    }

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        return plot;
    }

    private static double Parse(string? s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;

    // Trailing moving average: per-iteration losses under mixup are too noisy to read unsmoothed.
    private static double[] Smooth(double[] y, int window)
    {
        var result = new double[y.Length];
        double sum = 0;
        var count = 0;
        for (var i = 0; i < y.Length; i++)
        {
            var v = double.IsNaN(y[i]) ? 0 : y[i];
            sum += v;
            count++;
            if (count > window)
            {
                var old = y[i - window];
                sum -= double.IsNaN(old) ? 0 : old;
                count--;
            }
            result[i] = sum / count;
        }
        return result;
    }
}
