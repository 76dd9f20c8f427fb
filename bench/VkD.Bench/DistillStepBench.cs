using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SkiaSharp;
using TorchSharp.Modules;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Training.Loop;
using VkD.Training.Options;
using VkD.Training.Sessions;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// The whole `vkd distill` step (the CLI's own session: loader, teacher, student, distiller, loop, AdamW) timed by
/// part through the loop's <see cref="StepProfile"/>, with each part's FLOPs and its share of this machine's measured
/// float32 and bfloat16 GEMM rates, against the reference's step restated in PyTorch (bench/python/distill_step_bench.py)
/// in the same invocation, one of its steps after each of ours (warm-up included). Random weights (speed does not depend on them) on generated JPEGs.
/// Options: <c>--student deit_ti_distilled --teacher regnety_160 --batch 16 --img 224 --threads 2 --steps 3
/// --warmup 1 --teacher-precision fp32|bf16 --no-python --python /usr/bin/python3 --blas-dir DIR --blas-coretype SkylakeX</c>
/// (for the Python process only: <c>--blas-dir</c> puts a folder with OpenBLAS's <c>libblas.so.3</c> first on its
/// library path, for machines whose system BLAS is Debian's reference BLAS; <c>--blas-coretype</c> sets
/// OPENBLAS_CORETYPE, since Debian's OpenBLAS 0.3.21 does not recognise this CPU and falls back to SSE3 kernels).
/// </summary>
public sealed class DistillStepBench : IBenchSuite
{
    private static readonly string[] Parts =
        [StepProfile.Data, StepProfile.Teacher, StepProfile.Student, StepProfile.Loss, StepProfile.Backward, StepProfile.Optimizer];

    /// <inheritdoc />
    public string Name => "distill-step";

    /// <inheritdoc />
    public string Description => "The vkd distill step by part (time, FLOPs, % of measured GEMM peak) vs the reference's PyTorch step";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var studentName = BenchArgs.Option(args, "--student") ?? "deit_ti_distilled";
        var teacherName = BenchArgs.Option(args, "--teacher") ?? "regnety_160";
        var batch = BenchArgs.IntOption(args, "--batch", 16);
        var img = BenchArgs.IntOption(args, "--img", 224);
        var threads = BenchArgs.IntOption(args, "--threads", 2);
        var steps = BenchArgs.IntOption(args, "--steps", 3);
        var warmup = BenchArgs.IntOption(args, "--warmup", 1);
        var precision = BenchArgs.Option(args, "--teacher-precision") ?? "fp32";
        const int classes = 10;
        set_num_threads(threads);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"distill-step: {studentName} <- {teacherName} ({precision}), batch {batch}, {img} px, {threads} threads, " +
            $"{warmup} warm-up + {steps} timed steps; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));

        // Measured before and after the steps, the better of the two kept: on a shared machine one of them may fall in
        // a burst of load, and a peak taken then would make every part look faster than the machine allows.
        var (peak32, peak16) = (GemmRate(ScalarType.Float32), GemmRate(ScalarType.BFloat16));

        var root = Path.Combine(Path.GetTempPath(), $"vkd-distill-step-{Environment.ProcessId}");
        try
        {
            GenerateImages(Path.Combine(root, "train"), Math.Max(batch * (warmup + steps), classes), classes, img + 32);
            GenerateImages(Path.Combine(root, "val"), classes, classes, img + 32);
            var teacherWeights = Path.Combine(root, "teacher.pth");
            manual_seed(0);
            using (var t = ModelRegistry.Create(teacherName, new ModelOptions(classes, img)))
            {
                CheckpointWriter.WriteStateDict(teacherWeights, t.state_dict());
            }

            var profile = new StepProfile();
            var options = new TrainingOptions
            {
                StudentModel = studentName,
                Teacher = teacherName,
                TeacherPath = teacherWeights,
                TeacherPrecision = precision,
                DataPath = root,
                InputSize = img,
                BatchSize = batch,
                Epochs = 1000,
                Threads = threads,
                NumWorkers = 1,
                SaveEvery = 0,
            };
            // The reference's steps alternate with ours (one of theirs after each of ours, warm-up included), so both
            // sides see the same load over the run.
            using var reference = args.Contains("--no-python") ? null
                : PyTorchStep.Start(BenchArgs.Option(args, "--python") ?? "/usr/bin/python3", batch, img, threads, steps, warmup, classes,
                    BenchArgs.Option(args, "--blas-coretype"), BenchArgs.Option(args, "--blas-dir"));
            TrainingSession.Run(SessionKind.Distill, options, new InterleavingObserver(profile, warmup, reference), stopAfterSteps: warmup + steps, profile: profile);
            var ours = profile.PerStep().ToDictionary(r => r.Part, r => r.Seconds, StringComparer.Ordinal);
            var oursTotal = profile.SecondsPerStep;
            // VmHWM: the whole session's peak (teacher, student, loader, optimiser state).
            var peakRss = BenchArgs.ProcStatusKib("VmHWM") / 1024.0;
            var theirs = reference?.Finish();
            // After the run, so the counting models do not add to the peak above.
            var flops = CountFlops(studentName, teacherName, classes, img, batch);
            (peak32, peak16) = (Math.Max(peak32, GemmRate(ScalarType.Float32)), Math.Max(peak16, GemmRate(ScalarType.BFloat16)));
            Console.WriteLine(string.Create(inv, $"measured GEMM peak (2048^3, best of 3, before and after the steps): fp32 {peak32:F0} GFLOP/s, bf16 {peak16:F0} GFLOP/s; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));

            Console.WriteLine();
            Console.WriteLine("| part | ours s/step | share | GFLOP | GFLOP/s | % fp32 peak | % bf16 peak | PyTorch s/step | PyTorch/ours |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var part in Parts.Append("other"))
            {
                var s = ours.GetValueOrDefault(part);
                var g = flops.GetValueOrDefault(part);
                var rate = s > 0 && g > 0 ? g / s : double.NaN;
                var t = theirs?.GetValueOrDefault(part) ?? double.NaN;
                Console.WriteLine(string.Create(inv,
                    $"| {part} | {s:F3} | {100 * s / oursTotal:F0}% | {(g > 0 ? g.ToString("F1", inv) : "")} | {Cell(rate, "F0")} | {Cell(100 * rate / peak32, "F0")} | {Cell(100 * rate / peak16, "F0")} | {Cell(t, "F3")} | {Cell(t / s, "F2")} |"));
            }
            var all = flops.Values.Sum();
            var theirTotal = theirs?.GetValueOrDefault("total") ?? double.NaN;
            Console.WriteLine(string.Create(inv,
                $"| step | {oursTotal:F3} | 100% | {all:F1} | {all / oursTotal:F0} | {100 * all / oursTotal / peak32:F0} | {100 * all / oursTotal / peak16:F0} | {Cell(theirTotal, "F3")} | {Cell(theirTotal / oursTotal, "F2")} |"));
            Console.WriteLine(string.Create(inv, $"images/s: ours {batch / oursTotal:F2}, PyTorch {Cell(batch / theirTotal, "F2")}"));
            Console.WriteLine(string.Create(inv, $"peak RSS: ours {peakRss:F0} MB, PyTorch {Cell(theirs?.GetValueOrDefault("peak_rss_mb") ?? double.NaN, "F0")} MB"));
            return 0;
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, true);
            }
        }
    }

    private static string Cell(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "";

    // Resets the profile once the warm-up steps are done, so first-touch allocation and lazy init do not count, and
    // runs one reference step after each of ours.
    private sealed class InterleavingObserver(StepProfile profile, int warmup, PyTorchStep? reference) : ITrainingObserver
    {
        private int _seen;

        public void OnIteration(IterationReport report)
        {
            if (++_seen == warmup)
            {
                profile.Reset();
            }
            reference?.Step();
        }

        public void OnMessage(string message) => Console.WriteLine($"  vkd: {message}");
    }

    /// <summary>Best of three 2048³ matrix products in <paramref name="dtype"/>, GFLOP/s.</summary>
    private static double GemmRate(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var a = randn(2048, 2048).to_type(dtype);
        var b = randn(2048, 2048).to_type(dtype);
        a.matmul(b);
        var best = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var w = Stopwatch.StartNew();
            using var c = a.matmul(b);
            best = Math.Min(best, w.Elapsed.TotalSeconds);
        }
        return 2.0 * 2048 * 2048 * 2048 / best / 1e9;
    }

    /// <summary>GFLOP per step by part: convolutions, linear layers and attention products counted by forward hooks
    /// (2 FLOPs per multiply-add); the backward as twice the student's forward (the weight and the input gradients);
    /// the projector is the loss part's product.</summary>
    private static Dictionary<string, double> CountFlops(string studentName, string teacherName, int classes, int img, int batch)
    {
        using var _ = no_grad();
        using var teacher = ModelRegistry.Create(teacherName, new ModelOptions(classes, img));
        using var student = ModelRegistry.Create(studentName, new ModelOptions(classes, img));
        teacher.eval();
        student.eval();
        using var x = randn(1, 3, img, img);
        var t = ForwardGflop(teacher, x) * batch;
        var s = ForwardGflop(student, x) * batch;
        var projector = 2.0 * batch * student.NumFeatures * teacher.NumFeatures / 1e9;
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [StepProfile.Teacher] = t,
            [StepProfile.Student] = s,
            [StepProfile.Loss] = projector,
            [StepProfile.Backward] = 2 * (s + projector),
        };
    }

    private static double ForwardGflop(ClassifierModel model, Tensor x)
    {
        double macs = 0;
        var removers = new List<Action>();
        foreach (var (_, m) in model.named_modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    var hconv = conv.register_forward_hook((_, _, y) =>
                    {
                        var w = conv.weight!.shape;
                        macs += (double)y.numel() * w[1] * w[2] * w[3];
                        return y;
                    });
                    removers.Add(() => hconv.remove());
                    break;
                case Linear linear:
                    var hlinear = linear.register_forward_hook((_, _, y) =>
                    {
                        macs += (double)y.numel() * linear.weight!.shape[1];
                        return y;
                    });
                    removers.Add(() => hlinear.remove());
                    break;
                case VkD.Models.Layers.Attention attention:
                    var hattention = attention.register_forward_hook((_, _, y) =>
                    {
                        // q·kᵀ and attn·v: 2 · N² · D multiply-adds per image.
                        var (n, d) = (y.shape[1], y.shape[2]);
                        macs += 2.0 * y.shape[0] * n * n * d;
                        return y;
                    });
                    removers.Add(() => hattention.remove());
                    break;
            }
        }
        using (var y = model.call(x))
        {
        }
        foreach (var remove in removers)
        {
            remove();
        }
        return 2 * macs / 1e9;
    }

    private static void GenerateImages(string root, int count, int classes, int side)
    {
        var rnd = new Random(7);
        var info = new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var px = new byte[side * side * 4];
        for (var i = 0; i < count; i++)
        {
            rnd.NextBytes(px);
            for (var p = 3; p < px.Length; p += 4)
            {
                px[p] = 255;
            }
            using var bmp = new SKBitmap(info);
            System.Runtime.InteropServices.Marshal.Copy(px, 0, bmp.GetPixels(), px.Length);
            using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 90);
            var dir = Path.Combine(root, $"class{i % classes}");
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, $"img{i:D4}.jpg"), data.ToArray());
        }
    }

    // bench/python/distill_step_bench.py --interleave: builds its models, then runs one step per line on its stdin.
    private sealed class PyTorchStep : IDisposable
    {
        private readonly Process _process;
        private readonly Task<string> _stderr;
        private Dictionary<string, double>? _mean;

        private PyTorchStep(Process process)
        {
            _process = process;
            _stderr = process.StandardError.ReadToEndAsync();
        }

        public static PyTorchStep Start(string python, int batch, int img, int threads, int steps, int warmup, int classes, string? coretype, string? blasDir)
        {
            var script = Path.Combine(BenchArgs.RepoRoot(), "bench", "python", "distill_step_bench.py");
            var psi = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { script, "--interleave", "--batch", $"{batch}", "--img", $"{img}", "--threads", $"{threads}", "--steps", $"{steps}", "--warmup", $"{warmup}", "--classes", $"{classes}" })
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment["OMP_WAIT_POLICY"] = "passive";
            psi.Environment["OMP_NUM_THREADS"] = $"{threads}";
            // The reference as installed: glibc malloc, not the allocator this process may have been preloaded with.
            psi.Environment.Remove("LD_PRELOAD");
            psi.Environment.Remove("MALLOC_CONF");
            if (coretype is not null)
            {
                psi.Environment["OPENBLAS_CORETYPE"] = coretype;
                psi.Environment["OPENBLAS_VERBOSE"] = "2";
            }
            if (blasDir is not null)
            {
                psi.Environment["LD_LIBRARY_PATH"] = blasDir;
            }
            var step = new PyTorchStep(Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {python}."));
            step.ReadLine();
            return step;
        }

        public void Step()
        {
            _process.StandardInput.WriteLine("go");
            _process.StandardInput.Flush();
            ReadLine();
        }

        public Dictionary<string, double>? Finish()
        {
            _process.StandardInput.Close();
            while (_mean is null && ReadLine())
            {
            }
            _process.WaitForExit();
            var err = _stderr.Result;
            foreach (var l in err.Split('\n').Where(l => l.Contains("Core", StringComparison.OrdinalIgnoreCase)))
            {
                Console.WriteLine($"  PyTorch stderr: {l}");
            }
            if (_process.ExitCode != 0)
            {
                Console.Error.WriteLine($"PyTorch side failed ({_process.ExitCode}): {err}");
                return null;
            }
            return _mean;
        }

        private bool ReadLine()
        {
            var line = _process.StandardOutput.ReadLine();
            if (line is null)
            {
                return false;
            }
            Console.WriteLine($"  PyTorch: {line}");
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("mean", out var m))
            {
                _mean = m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble(), StringComparer.Ordinal);
            }
            return true;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
            _process.Dispose();
        }
    }
}
