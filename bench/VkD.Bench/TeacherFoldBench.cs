using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using VkD.Distillation.Teachers;
using VkD.Models;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// The frozen teacher's forward unfolded, with its BatchNorms folded into the convs, in channels-last memory format,
/// and both, in float32 and bfloat16: interleaved rounds in one process, best of N after a warm-up (the first
/// forward of each), random weights with random BatchNorm statistics (the speed is the point). Options: <c>--models resnet18,regnety_160 --batch 16 --img 224 --threads 2
/// --rounds 3</c>.
/// </summary>
public sealed class TeacherFoldBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "teacher-fold";

    /// <inheritdoc />
    public string Description => "Teacher forward img/s unfolded vs BatchNorm-folded vs channels-last vs both, fp32 and bf16";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var batch = BenchArgs.IntOption(args, "--batch", 16);
        var img = BenchArgs.IntOption(args, "--img", 224);
        var rounds = BenchArgs.IntOption(args, "--rounds", 3);
        set_num_threads(BenchArgs.IntOption(args, "--threads", 2));
        var models = (BenchArgs.Option(args, "--models") ?? "resnet18,regnety_160").Split(',');
        Console.WriteLine("| teacher | precision | unfolded img/s | folded | channels-last (unfolded) | folded + channels-last | folded/unfolded | CL/unfolded | folded+CL/unfolded | folded+CL vs unfolded fp32: max relative error |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var name in models)
        {
            foreach (var precision in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                manual_seed(0);
                var plain = new ModelTeacher(ModelRegistry.Create(name, new ModelOptions(1000, img)), name);
                RandomiseBatchNorms(plain.Model);
                ModelTeacher[] teachers = [plain, Copy(plain, name, img), Copy(plain, name, img), Copy(plain, name, img)];
                teachers[1].FoldBatchNorm();
                teachers[2].UseChannelsLast();
                teachers[3].FoldBatchNorm();
                teachers[3].UseChannelsLast();
                using var x = randn(batch, 3, img, img);
                var error = MaxRelativeError(plain.Forward(x), teachers[3].Forward(x));
                if (precision != ScalarType.Float32)
                {
                    foreach (var t in teachers)
                    {
                        t.SetPrecision(precision);
                    }
                }
                var best = new double[teachers.Length];
                for (var i = 0; i < teachers.Length; i++)
                {
                    // Warm-up: the first forward also allocates and picks kernels.
                    Time(teachers[i], x);
                    best[i] = double.MaxValue;
                }
                for (var r = 0; r < rounds; r++)
                {
                    for (var i = 0; i < teachers.Length; i++)
                    {
                        best[i] = Math.Min(best[i], Time(teachers[i], x));
                    }
                }
                Console.WriteLine(FormattableString.Invariant(
                    $"| {name} | {(precision == ScalarType.Float32 ? "fp32" : "bf16")} | {batch / best[0]:F2} | {batch / best[1]:F2} | {batch / best[2]:F2} | {batch / best[3]:F2} | {best[0] / best[1]:F2}x | {best[0] / best[2]:F2}x | {best[0] / best[3]:F2}x | {error:E1} |"));
                foreach (var t in teachers)
                {
                    t.Dispose();
                }
            }
        }
        return 0;
    }

    private static ModelTeacher Copy(ModelTeacher source, string name, int img)
    {
        var copy = new ModelTeacher(ModelRegistry.Create(name, new ModelOptions(1000, img)), name);
        copy.Model.load_state_dict(source.Model.state_dict());
        return copy;
    }

    // Fresh BatchNorms are the identity in eval, which would make folding look free of rounding.
    private static void RandomiseBatchNorms(nn.Module model)
    {
        using var _ = no_grad();
        foreach (var bn in model.modules().OfType<BatchNorm2d>())
        {
            bn.running_mean!.normal_(0, 0.1);
            bn.running_var!.uniform_(0.5, 1.5);
            bn.weight!.uniform_(0.5, 1.5);
            bn.bias!.normal_(0, 0.1);
        }
    }

    private static double MaxRelativeError(TeacherOutputs reference, TeacherOutputs other)
    {
        using var scope = NewDisposeScope();
        double Rel(Tensor a, Tensor b) => ((a - b).abs().max() / b.abs().max()).item<float>();
        var e = Rel(other.Features, reference.Features);
        if (reference.Logits is not null && other.Logits is not null)
        {
            e = Math.Max(e, Rel(other.Logits, reference.Logits));
        }
        foreach (var t in new[] { reference.Logits, reference.Features, other.Logits, other.Features })
        {
            t?.Dispose();
        }
        return e;
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
