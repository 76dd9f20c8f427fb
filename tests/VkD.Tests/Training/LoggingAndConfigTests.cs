using VkD.Training.Logging;
using VkD.Training.Options;

namespace VkD.Tests.Training;

public sealed class LoggingAndConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-log-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Csv_log_resume_keeps_only_rows_before_the_checkpoint()
    {
        var path = Path.Combine(_dir, "iterations.csv");
        using (var log = CsvLog.Create(path, RunFiles.IterationColumns))
        {
            for (var i = 0; i < 5; i++)
            {
                log.Append(0, i, 0.1, 1.0, 0.0, 0.0, 1.0, 0.01);
            }
        }
        using (var log = CsvLog.Open(path, RunFiles.IterationColumns, row => int.Parse(row[1]) < 3))
        {
            log.Append(0, 3, 0.1, 2.0, 0.0, 0.0, 2.0, 0.01);
        }
        var rows = CsvLog.Read(path);
        Assert.Equal(["0", "1", "2", "3"], rows.Select(r => r["itr"]));
        Assert.Equal("2", rows[3]["ce"]);
    }

    [Fact]
    public void Plots_render_headless_from_the_logs()
    {
        using (var log = CsvLog.Create(Path.Combine(_dir, RunFiles.IterationsCsv), RunFiles.IterationColumns))
        {
            for (var i = 0; i < 20; i++)
            {
                log.Append(i / 10, i % 10, 1e-3, 2.0 / (i + 1), 0.5, 0.1, 2.6 / (i + 1), 0.05);
            }
        }
        using (var log = CsvLog.Create(Path.Combine(_dir, RunFiles.EpochsCsv), RunFiles.EpochColumns))
        {
            log.Append(0, 1.0, 50.0, 90.0, 1.2, null, null, null, 1e-3, 3.0);
            log.Append(1, 0.8, 60.0, 95.0, 1.0, null, null, null, 1e-4, 3.0);
        }
        var files = TrainingPlots.Write(_dir);
        Assert.Equal(2, files.Count);

        // Issue 18.18: the learning rate and the validation loss are drawn, on the right axis; epoch ticks are whole
        // numbers; the legend sits outside the data.
        var loss = TrainingPlots.LossPlot(_dir)!;
        var lr = loss.GetPlottables().OfType<ScottPlot.Plottables.Scatter>().Single(p => p.LegendText.StartsWith("lr", StringComparison.Ordinal));
        Assert.Same(loss.Axes.Right, lr.Axes.YAxis);
        Assert.Equal(1.9, lr.Data.GetScatterPoints()[^1].X, 12);
        var eval = TrainingPlots.EvaluationPlot(_dir)!;
        var legends = eval.GetPlottables().OfType<ScottPlot.Plottables.Scatter>().Select(p => p.LegendText).ToList();
        Assert.Contains("acc1", legends);
        Assert.Contains("loss (right axis)", legends);
        Assert.True(eval.Axes.Bottom.TickGenerator is ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly: true });
        Assert.True(loss.Axes.Bottom.TickGenerator is ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly: true });
        foreach (var f in files)
        {
            var bytes = File.ReadAllBytes(f);
            Assert.True(bytes.Length > 2000, $"{f} is suspiciously small");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
    }

    [Fact]
    public void Config_files_in_yaml_and_json_set_options_by_flag_or_snake_name()
    {
        var yaml = Path.Combine(_dir, "c.yaml");
        File.WriteAllText(yaml, "lr: 0.002\nmin_lr: 1e-6\nstudent-model: resnet8\nstudent_ema: true\nclip-grad: None\n");
        var o = new TrainingOptions();
        ConfigFile.Apply(o, ConfigFile.Read(yaml), yaml);
        Assert.Equal(0.002, o.Lr);
        Assert.Equal(1e-6, o.MinLr);
        Assert.Equal("resnet8", o.StudentModel);
        Assert.True(o.StudentEma);
        Assert.Equal(0, o.ClipGrad);

        var json = Path.Combine(_dir, "c.json");
        File.WriteAllText(json, """{"epochs": 7, "projector": "cayley"}""");
        ConfigFile.Apply(o, ConfigFile.Read(json), json);
        Assert.Equal(7, o.Epochs);
        Assert.Equal("cayley", o.Projector);
        Assert.Equal("min-lr", ConfigFile.FlagName(nameof(TrainingOptions.MinLr)));
    }

    [Fact]
    public void Config_file_with_an_unknown_option_is_rejected_by_name()
    {
        var yaml = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(yaml, "learning_rate: 0.1\n");
        var e = Assert.Throws<InvalidDataException>(() => ConfigFile.Apply(new TrainingOptions(), ConfigFile.Read(yaml), yaml));
        Assert.Contains("learning_rate", e.Message);
        Assert.Contains("bad.yaml", e.Message);
    }
}
