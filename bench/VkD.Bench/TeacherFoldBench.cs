using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using VkD.Distillation.Teachers;
using VkD.Models;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// The frozen teacher's forward unfolded, with its BatchNorms folded into the convs, and folded in channels-last
/// memory format, in float32 and bfloat16: interleaved rounds in one process, best of N after a warm-up (random
/// weights: the speed is the point). Options: <c>--models resnet18,regnety_160 --batch 16 --img 224 --threads 2
/// --rounds 3</c>.
/// </summary>
public sealed class TeacherFoldBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "teacher-fold";

    /// <inheritdoc />
    public string Description => "Teacher forward img/s unfolded vs BatchNorm-folded vs folded + channels-last, fp32 and bf16";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var batch = BenchArgs.IntOption(args, "--batch", 16);
        var img = BenchArgs.IntOption(args, "--img", 224);
        var rounds = BenchArgs.IntOption(args, "--rounds", 3);
        set_num_threads(BenchArgs.IntOption(args, "--threads", 2));
        var models = (BenchArgs.Option(args, "--models") ?? "resnet18,regnety_160").Split(',');
        Console.WriteLine("| teacher | precision | unfolded img/s | folded img/s | folded + channels-last img/s | folded/unfolded | folded+CL/unfolded | folded vs unfolded: max relative error |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var name in models)
        {
            foreach (var precision in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                manual_seed(0);
                using var plain = new ModelTeacher(ModelRegistry.Create(name, new ModelOptions(1000, img)), name);
                RandomiseBatchNorms(plain.Model);
                using var folded = Copy(plain, name, img);
                using var foldedCl = Copy(plain, name, img);
                folded.FoldBatchNorm();
                foldedCl.FoldBatchNorm();
                ToChannelsLast(foldedCl.Model);
                using var x = randn(batch, 3, img, img);
                using var xCl = ChannelsLastCopy(x);
                var error = MaxRelativeError(plain.Forward(x), folded.Forward(x));
                if (precision != ScalarType.Float32)
                {
                    plain.SetPrecision(precision);
                    folded.SetPrecision(precision);
                    foldedCl.SetPrecision(precision);
                }
                var w = foldedCl.Model.modules().OfType<Conv2d>().Skip(1).First().weight;
                Console.Error.WriteLine($"{name} {precision}: a channels-last conv weight is {w.dtype} with strides [{string.Join(", ", w.stride())}] for shape [{string.Join(", ", w.shape)}]");
                Time(plain, x);
                Time(folded, x);
                Time(foldedCl, xCl);
                double bestPlain = double.MaxValue, bestFolded = double.MaxValue, bestCl = double.MaxValue;
                for (var r = 0; r < rounds; r++)
                {
                    bestPlain = Math.Min(bestPlain, Time(plain, x));
                    bestFolded = Math.Min(bestFolded, Time(folded, x));
                    bestCl = Math.Min(bestCl, Time(foldedCl, xCl));
                }
                Console.WriteLine(FormattableString.Invariant(
                    $"| {name} | {(precision == ScalarType.Float32 ? "fp32" : "bf16")} | {batch / bestPlain:F2} | {batch / bestFolded:F2} | {batch / bestCl:F2} | {bestPlain / bestFolded:F2}x | {bestPlain / bestCl:F2}x | {error:E1} (fp32) |"));
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

    private static void ToChannelsLast(nn.Module model)
    {
        foreach (var conv in model.modules().OfType<Conv2d>())
        {
            conv.weight = nn.Parameter(ChannelsLastCopy(conv.weight), requires_grad: false);
        }
    }

    // TorchSharp has no memory_format argument on contiguous(); NHWC strides under an NCHW shape are what libtorch
    // recognises as channels_last.
    private static Tensor ChannelsLastCopy(Tensor t)
    {
        using var nhwc = t.permute(0, 2, 3, 1).contiguous();
        return nhwc.permute(0, 3, 1, 2);
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
