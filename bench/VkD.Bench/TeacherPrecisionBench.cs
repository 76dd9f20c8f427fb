using System.Diagnostics;
using VkD.Models;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// The frozen teacher's forward in float32 against <c>--teacher-precision bf16</c>, interleaved rounds in one process
/// (random weights: the speed is the point; the agreement on real images is what the training banner prints).
/// Options: <c>--models regnety_160,resnet18 --batch 16 --img 224 --threads 2 --rounds 3</c>.
/// </summary>
public sealed class TeacherPrecisionBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "teacher-precision";

    /// <inheritdoc />
    public string Description => "Teacher forward img/s in float32 vs bfloat16 (interleaved rounds, same process)";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var batch = BenchArgs.IntOption(args, "--batch", 16);
        var img = BenchArgs.IntOption(args, "--img", 224);
        var rounds = BenchArgs.IntOption(args, "--rounds", 3);
        set_num_threads(BenchArgs.IntOption(args, "--threads", 2));
        var models = (BenchArgs.Option(args, "--models") ?? "regnety_160,resnet18").Split(',');
        Console.WriteLine("| teacher | batch | fp32 img/s | bf16 img/s | bf16/fp32 | features: relative error, cosine (random weights) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var name in models)
        {
            manual_seed(0);
            using var fp32 = new ModelTeacher(ModelRegistry.Create(name, new ModelOptions(1000, img)), name);
            using var bf16 = new ModelTeacher(ModelRegistry.Create(name, new ModelOptions(1000, img)), name);
            bf16.Model.load_state_dict(fp32.Model.state_dict());
            using var x = randn(batch, 3, img, img);
            bf16.SetPrecision(ScalarType.BFloat16, x.clone());
            Time(fp32, x);
            Time(bf16, x);
            double best32 = double.MaxValue, best16 = double.MaxValue;
            for (var r = 0; r < rounds; r++)
            {
                best32 = Math.Min(best32, Time(fp32, x));
                best16 = Math.Min(best16, Time(bf16, x));
            }
            var a = bf16.Agreement!;
            Console.WriteLine(FormattableString.Invariant(
                $"| {name} | {batch} | {batch / best32:F2} | {batch / best16:F2} | {best32 / best16:F2}x | {a.RelativeFeatureError:E2}, {a.FeatureCosine:F5} |"));
        }
        return 0;
    }

    private static double Time(ModelTeacher teacher, Tensor x)
    {
        var watch = Stopwatch.StartNew();
        var outputs = teacher.Forward(x);
        outputs.Logits?.Dispose();
        outputs.Features.Dispose();
        return watch.Elapsed.TotalSeconds;
    }
}
