using System.Globalization;
using Spectre.Console;
using VkD.Cli;
using VkD.Interop.Checkpoints;
using VkD.Tests.Training;
using VkD.Training.Logging;

namespace VkD.Tests.Distillation.Methods;

/// <summary><c>vkd distill --distill-method</c>: two steps of every method on the shipped Fashion-MNIST subset with
/// the resnet32 teacher, and the pairings refused before the first step.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class MethodCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-methods-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output) Run(params string[] args) => VkD.Tests.Cli.CliRunner.Run(args);

    // 64 training images in batches of 32: two steps.
    private string[] TwoSteps(string student, string outDir, params string[] extra) =>
    [
        "distill", "--student-model", student, "--teacher", "resnet32", "--teacher-path", TrainingTestData.TeacherPath,
        "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath, "--train-subset", "64", "--eval-subset", "32",
        "--batch-size", "32", "--epochs", "1", "--mixup", "0", "--cutmix", "0", "--threads", "1", "--num-workers", "1",
        "--output_dir", outDir, .. extra,
    ];

    [Theory]
    [InlineData("kd", "kd", "resnet8")]
    [InlineData("dkd", "dkd", "resnet8")]
    [InlineData("dist", "dist", "resnet8")]
    [InlineData("fitnet", "fitnet", "resnet8")]
    [InlineData("at", "at", "resnet8")]
    [InlineData("rkd", "rkd", "resnet8")]
    [InlineData("pkt", "pkt", "resnet8")]
    [InlineData("crd", "crd", "resnet8", "k=50")]
    [InlineData("srd", "srd", "resnet8")]
    [InlineData("vkd", "repr", "resnet8")]
    [InlineData("at", "at", "deit_nano_patch4_32")]
    [InlineData("fitnet", "fitnet", "deit_nano_patch4_32")]
    public void Each_method_trains_two_steps_and_logs_its_term_with_finite_values(string method, string term, string student, string options = "")
    {
        var outDir = Path.Combine(_dir, $"{method}-{student}");
        string[] extra = options.Length > 0 ? ["--distill-method", method, "--method-options", options] : ["--distill-method", method];
        var (code, output) = Run(TwoSteps(student, outDir, extra));
        Assert.True(code == 0, output);
        var rows = CsvLog.Read(Path.Combine(outDir, RunFiles.IterationsCsv));
        Assert.Equal(2, rows.Count);
        foreach (var row in rows)
        {
            var value = double.Parse(row[term], CultureInfo.InvariantCulture);
            Assert.True(double.IsFinite(value) && value != 0, $"{method}: {term} = {row[term]}");
            Assert.True(double.IsFinite(double.Parse(row["ce"], CultureInfo.InvariantCulture)), $"{method}: ce = {row["ce"]}");
        }
        Assert.Contains($"\"distill-method\": \"{method}\"", File.ReadAllText(Path.Combine(outDir, RunFiles.ConfigJson)));
        Assert.Contains("loss terms: ce + ", output);
        if (method is "fitnet" or "crd" or "srd")
        {
            // The method's own parameters and buffers are trained and saved with the student.
            using var ckpt = CheckpointReader.Read(Path.Combine(outDir, RunFiles.LatestCheckpoint));
            Assert.Contains(ckpt.StateDictEntry("student").Keys, k => k.StartsWith(method + ".", StringComparison.Ordinal));
            Assert.Contains($"method {method}: ", output);
        }
    }

    [Fact]
    public void An_onnx_teacher_serves_the_methods_on_its_outputs_and_map_methods_are_refused_before_training()
    {
        var outDir = Path.Combine(_dir, "onnx-rkd");
        var (code, output) = Run(TwoSteps("resnet8", outDir, "--teacher-runtime", "onnx", "--distill-method", "rkd"));
        Assert.True(code == 0, output);
        Assert.True(double.IsFinite(double.Parse(CsvLog.Read(Path.Combine(outDir, RunFiles.IterationsCsv))[^1]["rkd"], CultureInfo.InvariantCulture)));
        (code, output) = Run(TwoSteps("resnet8", Path.Combine(_dir, "onnx-at"), "--teacher-runtime", "onnx", "--distill-method", "at"));
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("which an ONNX teacher does not give", output);
    }

    [Fact]
    public void Dkd_with_mixup_and_a_tap_the_teacher_lacks_fail_before_the_first_step()
    {
        var outDir = Path.Combine(_dir, "bad");
        var (code, output) = Run([.. TwoSteps("resnet8", outDir, "--distill-method", "dkd"), "--mixup", "0.8"]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--mixup 0 --cutmix 0", output);
        (code, output) = Run(TwoSteps("resnet8", outDir, "--distill-method", "at", "--teacher-taps", "layer1,layer9", "--student-taps", "layer1,layer2"));
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("No module 'layer9'", output);
        (code, output) = Run(TwoSteps("resnet8", outDir, "--distill-method", "pkt", "--gamma", "0.5"));
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--method-options kd=W", output);
        (code, output) = Run(TwoSteps("resnet8", outDir, "--distill-method", "crd", "--method-options", "negatives=10"));
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("its options are weight, kd, feat_dim, k, temperature, momentum", output);
        Assert.False(File.Exists(Path.Combine(outDir, RunFiles.IterationsCsv)));
    }
}
