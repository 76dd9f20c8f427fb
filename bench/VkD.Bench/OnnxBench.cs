using System.Diagnostics;
using System.Globalization;
using VkD.Interop.Onnx;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// Teacher forward on the CPU: ONNX Runtime (our export) against TorchSharp for the same weights, same process, same
/// thread count, interleaved; plus one student training step, to show what a faster teacher saves per step.
/// </summary>
public sealed class OnnxBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "onnx";

    /// <inheritdoc />
    public string Description => "Teacher forward: ONNX Runtime vs TorchSharp (resnet18, regnety_016; 224 px, batch 32, 2 threads)";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var models = new List<string> { "resnet18", "regnety_016" };
        var batch = 32;
        var size = 224;
        var threads = 2;
        var iters = 3;
        var student = "deit_ti_distilled";
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--models": models = [.. args[++i].Split(',')]; break;
                case "--batch": batch = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--size": size = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--iters": iters = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--student": student = args[++i]; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }
        set_num_threads(threads);
        manual_seed(0);
        Console.WriteLine($"# teacher forward, {size} px, batch {batch}, {threads} threads, median of {iters} (after 1 warm-up), interleaved");
        Console.WriteLine("| teacher | TorchSharp ms/batch | ONNX Runtime ms/batch | ORT speed-up | ORT img/s |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        var savings = new List<(string Model, double Saved)>();
        using var x = randn(batch, 3, size, size);
        foreach (var name in models)
        {
            using var model = ModelRegistry.Create(name, new ModelOptions(NumClasses: 1000));
            model.eval();
            using var teacher = OnnxTeacher.FromModel(model, size, new OnnxTeacherOptions { IntraOpThreads = threads });
            var torchTimes = new List<double>();
            var ortTimes = new List<double>();
            for (var i = 0; i <= iters; i++)
            {
                var t = Time(() =>
                {
                    using var scope = NewDisposeScope();
                    using var noGrad = no_grad();
                    model.ForwardForDistillation(x);
                });
                var o = Time(() =>
                {
                    using var scope = NewDisposeScope();
                    teacher.Forward(x);
                });
                if (i > 0)
                {
                    torchTimes.Add(t);
                    ortTimes.Add(o);
                }
            }
            var tm = Median(torchTimes);
            var om = Median(ortTimes);
            savings.Add((name, tm - om));
            Console.WriteLine($"| {name} | {tm:F0} | {om:F0} | {tm / om:F2}x | {batch / (om / 1000):F1} |");
        }

        // One student step (forward + backward + SGD) at the same batch, to put the teacher saving in proportion.
        using var s = ModelRegistry.Create(student, new ModelOptions(NumClasses: 1000));
        s.train();
        using var opt = optim.SGD(s.parameters(), 0.01);
        using var y = randint(0, 1000, [batch]);
        var stepTimes = new List<double>();
        for (var i = 0; i <= Math.Max(1, iters - 1); i++)
        {
            var st = Time(() =>
            {
                using var scope = NewDisposeScope();
                opt.zero_grad();
                nn.functional.cross_entropy(s.forward(x), y).backward();
                opt.step();
            });
            if (i > 0)
            {
                stepTimes.Add(st);
            }
        }
        var step = Median(stepTimes);
        Console.WriteLine();
        Console.WriteLine($"# student step ({student}, forward+backward+SGD): {step:F0} ms/batch");
        foreach (var (name, saved) in savings)
        {
            Console.WriteLine($"# teacher {name}: --teacher-runtime onnx saves {saved:F0} ms per step = {100 * saved / (step + saved + 0.0):F1}% of a TorchSharp-teacher step (teacher + student)");
        }
        return 0;
    }

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }
}
