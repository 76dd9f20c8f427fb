using System.Globalization;
using System.Reflection;
using ScottPlot;

namespace VkD.Training.Logging;

/// <summary>
/// Draws the run's PNG plots from its CSV logs: <c>loss.png</c> (per-iteration loss components, smoothed) and
/// <c>accuracy.png</c> (per-epoch top-1/top-5, EMA included when present). Uses the DejaVu Sans font shipped inside
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
        var iterPath = Path.Combine(outputDir, RunFiles.IterationsCsv);
        if (File.Exists(iterPath))
        {
            var rows = CsvLog.Read(iterPath);
            if (rows.Count > 0)
            {
                var x = Enumerable.Range(0, rows.Count).Select(i => (double)i).ToArray();
                var plot = NewPlot("Training loss", "iteration", "loss");
                // Every loss column the task logged (its term names), total first.
                var header = File.ReadLines(iterPath).First().Split(',');
                var columns = header.Where(c => c == "total").Concat(header.Where(c => c is not ("epoch" or "itr" or "lr" or "total")));
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
                plot.ShowLegend();
                var file = Path.Combine(outputDir, RunFiles.LossPlot);
                plot.SavePng(file, 900, 500);
                written.Add(file);
            }
        }
        var epochPath = Path.Combine(outputDir, RunFiles.EpochsCsv);
        if (File.Exists(epochPath))
        {
            var rows = CsvLog.Read(epochPath).Where(r => !double.IsNaN(Parse(r.GetValueOrDefault("acc1")))).ToList();
            if (rows.Count > 0)
            {
                var x = rows.Select(r => Parse(r["epoch"]) + 1).ToArray();
                var plot = NewPlot("Evaluation accuracy", "epoch", "accuracy (%)");
                foreach (var column in new[] { "acc1", "acc5", "ema_acc1" })
                {
                    var y = rows.Select(r => Parse(r.GetValueOrDefault(column))).ToArray();
                    if (y.All(double.IsNaN))
                    {
                        continue;
                    }
                    var line = plot.Add.Scatter(x, y);
                    line.LegendText = column;
                    line.MarkerSize = 5;
                }
                plot.ShowLegend();
                var file = Path.Combine(outputDir, RunFiles.AccuracyPlot);
                plot.SavePng(file, 900, 500);
                written.Add(file);
            }
        }
        return written;
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
