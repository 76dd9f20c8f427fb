using System.Globalization;
using Spectre.Console;
using VkD.Cli;
using VkD.Tests.Training;
using VkD.Training.Logging;

namespace VkD.Tests.Generation;

/// <summary><c>vkd gan train|distill|eval|sample</c> end to end on the shipped Fashion-MNIST sample, at a tiny
/// width: the run's files (checkpoints, FID columns, sample grids, FID plot), then eval and sample from its
/// checkpoint; bad flags exit with 2 and a message.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class GanCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-gan-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output) Run(params string[] args) => VkD.Tests.Cli.CliRunner.Run(args);

    private static readonly string[] Data = ["--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath];

    private static readonly string[] Fid =
    [
        "--fid-features", "resnet32", "--fid-weights", TrainingTestData.TeacherPath, "--fid-samples", "40", "--fid-real", "40",
        "--kid-subsets", "2", "--kid-subset-size", "20",
    ];

    [Fact]
    public void Gan_train_writes_checkpoints_fid_columns_grids_and_the_fid_plot_and_eval_and_sample_read_its_checkpoint()
    {
        var outDir = Path.Combine(_dir, "run");
        var (code, output) = Run(["gan", "train", .. Data, .. Fid, "--data-fraction", "0.05", "--ch", "2", "--dim-z", "8", "--batch-size", "4",
            "--d-steps", "2", "--iterations", "3", "--threads", "1", "--grid-per-class", "2", "--output-dir", outDir]);
        Assert.True(code == 0, output);
        Assert.Contains("FID", output);
        Assert.Contains("200 training images (5 %", output);
        foreach (var file in new[] { RunFiles.LatestCheckpoint, RunFiles.FinalWeights, "samples_epoch001.png", "samples_epoch001_ema.png", "samples.png", "fid.png", "fid-reference.pth" })
        {
            Assert.True(File.Exists(Path.Combine(outDir, file)), $"{file} is missing; output: {output}");
        }
        var epoch = CsvLog.Read(Path.Combine(outDir, RunFiles.EpochsCsv)).Single();
        Assert.True(double.Parse(epoch["fid"], CultureInfo.InvariantCulture) > 0);

        (code, output) = Run(["gan", "eval", "--ckpt", Path.Combine(outDir, RunFiles.LatestCheckpoint), "--ema", .. Data, .. Fid,
            "--fid-cache", Path.Combine(outDir, "fid-reference.pth"), "--output", Path.Combine(outDir, "eval.json")]);
        Assert.True(code == 0, output);
        Assert.Contains("FID", output);
        Assert.Contains("\"fid\"", File.ReadAllText(Path.Combine(outDir, "eval.json")));
        // The same EMA weights and noise give the FID the run logged for its EMA.
        var logged = double.Parse(epoch["ema_fid"], CultureInfo.InvariantCulture);
        Assert.Contains(logged.ToString("F3", CultureInfo.InvariantCulture), output);

        var grid = Path.Combine(_dir, "grid.png");
        (code, output) = Run("gan", "sample", "--ckpt", Path.Combine(outDir, RunFiles.FinalWeights), "--out", grid, "--per-class", "3");
        Assert.True(code == 0, output);
        using var png = SkiaSharp.SKBitmap.Decode(grid);
        Assert.Equal(3 * 33 + 1, png.Width);
        Assert.Equal(10 * 33 + 1, png.Height);
    }

    private static string ShippedFid => Path.Combine(TrainingTestData.Assets, "fid", "resnet8_fashion_mnist.pth");

    private static readonly string[] SmallEval = ["--fid-samples", "40", "--fid-real", "40", "--kid-subsets", "2", "--kid-subset-size", "20"];

    [Fact]
    public void Without_fid_features_train_and_eval_use_the_shipped_fashion_mnist_classifier()
    {
        Assert.True(File.Exists(ShippedFid), $"the shipped FID network {ShippedFid} is not next to the tests");
        var outDir = Path.Combine(_dir, "default-fid");
        var (code, output) = Run(["gan", "train", .. Data, .. SmallEval, "--data-fraction", "0.05", "--ch", "2", "--dim-z", "8", "--batch-size", "4",
            "--d-steps", "1", "--iterations", "2", "--threads", "1", "--grid-per-class", "1", "--output-dir", outDir]);
        Assert.True(code == 0, output);
        Assert.Contains("shipped", output);
        var epoch = CsvLog.Read(Path.Combine(outDir, RunFiles.EpochsCsv)).Single();
        Assert.True(double.Parse(epoch["fid"], CultureInfo.InvariantCulture) > 0);
        using (var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, RunFiles.SummaryJson))))
        {
            Assert.Equal("resnet8", summary.RootElement.GetProperty("fid_features").GetString());
            Assert.Equal(Path.GetFullPath(ShippedFid), summary.RootElement.GetProperty("fid_weights").GetString());
        }

        // eval without --fid-features computes its own reference with the same network: the logged EMA FID again.
        (code, output) = Run(["gan", "eval", "--ckpt", Path.Combine(outDir, RunFiles.LatestCheckpoint), "--ema", .. Data, .. SmallEval]);
        Assert.True(code == 0, output);
        Assert.Contains(double.Parse(epoch["ema_fid"], CultureInfo.InvariantCulture).ToString("F3", CultureInfo.InvariantCulture), output);

        // Data without a shipped network: eval needs the flag, and says so.
        (code, output) = Run(["gan", "eval", "--ckpt", Path.Combine(outDir, RunFiles.LatestCheckpoint), "--data-set", "mnist", "--data-path", TrainingTestData.DataPath]);
        Assert.Equal(2, code);
        Assert.Contains("No shipped FID network", output);
        Assert.Contains("--fid-features", output);
    }

    [Fact]
    public void The_distillation_teacher_is_never_the_evaluator_even_as_a_copy_or_the_shipped_default()
    {
        string[] tiny = ["--iterations", "1", "--ch", "2", "--batch-size", "4", "--d-steps", "1", "--data-fraction", "0.05"];
        // A byte-identical copy of the FID weights under another name.
        var copy = Path.Combine(_dir, "teacher-copy.pth");
        File.Copy(TrainingTestData.TeacherPath, copy);
        var (code, output) = Run(["gan", "distill", .. Data, .. tiny, "--teacher", "resnet32", "--teacher-path", copy,
            "--fid-features", "resnet32", "--fid-weights", TrainingTestData.TeacherPath]);
        Assert.Equal(2, code);
        Assert.Contains("also the FID/KID feature network", output);
        // The shipped default evaluator given as the teacher, with no --fid-features.
        (code, output) = Run(["gan", "distill", .. Data, .. tiny, "--teacher", "resnet8", "--teacher-path", ShippedFid]);
        Assert.Equal(2, code);
        Assert.Contains("also the FID/KID feature network", output);
        Assert.Contains("shipped", output);
    }

    [Fact]
    public void Bad_gan_flags_exit_with_2_and_say_why()
    {
        var (code, output) = Run(["gan", "distill", .. Data, "--iterations", "1"]);
        Assert.Equal(2, code);
        Assert.Contains("--teacher", output);
        (code, output) = Run(["gan", "train", .. Data, "--data-fraction", "1.5"]);
        Assert.Equal(2, code);
        Assert.Contains("--data-fraction", output);
        (code, output) = Run(["gan", "distill", .. Data, "--teacher", "resnet32", "--teacher-path", TrainingTestData.TeacherPath,
            "--fid-features", "resnet32", "--fid-weights", TrainingTestData.TeacherPath, "--iterations", "1", "--ch", "2", "--batch-size", "4", "--d-steps", "1"]);
        Assert.Equal(2, code);
        Assert.Contains("distillation teacher", output);
        (code, output) = Run("gan", "sample", "--ckpt", TrainingTestData.TeacherPath);
        Assert.Equal(2, code);
        Assert.Contains("not a BigGAN generator", output);
    }
}
