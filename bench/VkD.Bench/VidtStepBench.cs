using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using VkD.Detection.Data;
using VkD.Detection.Models;
using VkD.Detection.Training;
using VkD.Distillation.Distiller;
using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// Images/s of one ViDT training step of a Swin-nano student (box refinement, aux losses, 100 [DET] tokens, 11 classes
/// as tools/results/run_detection_results.sh trains it, random weights) on a padded batch with random targets, in three
/// modes: <c>train</c> (forward, ViDT's SetCriterion with Hungarian matching over the 7 prediction sets, backward,
/// clip 0.1, AdamW), <c>distill-vkd</c> (+ a frozen Swin-tiny ViDT teacher forward and VkD's six projected pairs × 4) and
/// <c>distill-vidt</c> (+ the teacher and ViDT's token matching × 4). Our side is what <c>vkd detect train|distill</c>
/// runs: a <see cref="DetectionTask"/> on the one <see cref="TrainingLoop{TBatch}"/> with
/// <see cref="DetectionTraining.LoopOptions"/>, fed from memory; a step is the time between two of the loop's
/// iteration reports. The PyTorch side (bench/python/vidt_step_bench.py) runs the restatements of tools/fixtures in the
/// same invocation, one process per mode right after ours. Best and median of <c>--iters</c> timed steps after one warm-up.
/// Options: <c>--size 128 --batch 4 --iters 3 --threads 2 --modes train,distill-vkd,distill-vidt --python /usr/bin/python3
/// --blas-dir DIR --no-python</c> (<c>--blas-dir</c>: a folder with OpenBLAS's <c>libblas.so.3</c> first on the PyTorch
/// process's library path, see <see cref="VidtBench"/>). The PyTorch process gets <c>OMP_WAIT_POLICY=passive</c>,
/// <c>OMP_NUM_THREADS</c>, <c>OPENBLAS_CORETYPE=SkylakeX</c> and <c>OPENBLAS_VERBOSE=2</c> (its core line is printed).
/// </summary>
public sealed class VidtStepBench : IBenchSuite
{
    private const int NumClasses = 11;
    private const double Coefficient = 4.0;
    private static readonly string[] AllModes = ["train", "distill-vkd", "distill-vidt"];

    /// <inheritdoc />
    public string Name => "vidt-step";

    /// <inheritdoc />
    public string Description => "ViDT-nano training step img/s (no teacher, VkD and ViDT distillation) vs the PyTorch restatement";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var size = BenchArgs.IntOption(args, "--size", 128);
        var batch = BenchArgs.IntOption(args, "--batch", 4);
        var iters = BenchArgs.IntOption(args, "--iters", 3);
        var threads = BenchArgs.IntOption(args, "--threads", 2);
        var modes = (BenchArgs.Option(args, "--modes") ?? string.Join(',', AllModes)).Split(',');
        var python = BenchArgs.Option(args, "--python") ?? "/usr/bin/python3";
        var blasDir = BenchArgs.Option(args, "--blas-dir");
        if (modes.FirstOrDefault(m => !AllModes.Contains(m)) is { } unknown)
        {
            Console.Error.WriteLine($"--modes: unknown mode '{unknown}'; use {string.Join(", ", AllModes)}.");
            return 2;
        }
        if (size < 32 || batch < 1 || iters < 1)
        {
            Console.Error.WriteLine("--size must be at least 32, --batch and --iters at least 1.");
            return 2;
        }
        torch.set_num_threads(threads);
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
        {
            Console.Error.WriteLine("note: OMP_WAIT_POLICY is unset for TorchSharp while PyTorch runs with 'passive'; set it for a like-for-like comparison on a shared machine.");
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ViDT-nano training step, batch {batch} padded to {size}x{size}, {threads} threads, {iters} timed steps after one warm-up; load {LoadAverage()}"));
        var ours = new Dictionary<string, (double Best, double Median)>();
        var theirs = new Dictionary<string, (double Best, double Median)>();
        var reportCore = true;
        // Interleaved by mode (ours, then PyTorch's), so that a change of the machine's load in the middle of the run
        // falls on both sides of a comparison rather than on one.
        foreach (var mode in modes)
        {
            var (times, loss) = Measure(mode, size, batch, iters);
            ours[mode] = Summarise(times);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"TorchSharp {mode,-12} best {batch / ours[mode].Best,6:F2} img/s, median {batch / ours[mode].Median,6:F2} img/s (steps {string.Join(" ", times.Select(t => t.ToString("F2", CultureInfo.InvariantCulture)))} s; first loss {loss:F3})"));
            if (!args.Contains("--no-python"))
            {
                foreach (var (m, r) in RunPyTorch(python, blasDir, [mode], size, batch, threads, iters, reportCore))
                {
                    theirs[m] = r;
                }
                reportCore = false;
            }
        }
        Console.WriteLine();
        Console.WriteLine($"load {LoadAverage()}");
        Console.WriteLine("| mode | TorchSharp img/s (best / median) | PyTorch 1.13 img/s (best / median) | ratio TS/PT (best / median) |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var mode in modes)
        {
            var (tb, tm) = (batch / ours[mode].Best, batch / ours[mode].Median);
            var row = theirs.TryGetValue(mode, out var p)
                ? string.Create(CultureInfo.InvariantCulture, $"{batch / p.Best:F2} / {batch / p.Median:F2} | {tb / (batch / p.Best):F2} / {tm / (batch / p.Median):F2}")
                : "- | -";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {mode} | {tb:F2} / {tm:F2} | {row} |"));
        }
        return 0;
    }

    /// <summary>Seconds of each timed step of <paramref name="mode"/> (the warm-up step left out) and the warm-up's
    /// total loss (a check that both sides compute losses of the same size).</summary>
    private static (List<double> Steps, double FirstLoss) Measure(string mode, int size, int batch, int iters)
    {
        var distillation = mode switch
        {
            "distill-vkd" => DetectionDistillation.Vkd,
            "distill-vidt" => DetectionDistillation.TokenMatching,
            _ => DetectionDistillation.None,
        };
        var config = VidtConfig.Nano with { NumClasses = NumClasses };
        // Built as DetectionTraining builds a run: the student from the seed, the projectors right after it, then the
        // teacher (here random Swin-tiny ViDT weights instead of a checkpoint: the cost is the same).
        torch.random.manual_seed(0);
        var student = new VidtDetector(config);
        FeatureDistiller? distiller = distillation switch
        {
            DetectionDistillation.Vkd => VidtDistillation.CreateVkd(Coefficient, config.HiddenDim, config.NumFeatureLevels),
            DetectionDistillation.TokenMatching => VidtDistillation.CreateTokenMatching(Coefficient, config.NumFeatureLevels, config.DecLayers + 1),
            _ => null,
        };
        var teacher = distillation == DetectionDistillation.None ? null : new VidtDetector(VidtConfig.Tiny with { NumClasses = NumClasses });
        var options = new DetectionTrainingOptions
        {
            CocoPath = "(in memory)",
            Model = config,
            AuxLoss = true,
            Distillation = distillation,
            DistilLossCoef = Coefficient,
            Epochs = 1,
            BatchSize = batch,
            NumWorkers = 0,
            TrainSize = size,
        };
        using var task = DetectionTraining.CreateTask(options, student, teacher, distiller);
        using var source = new InMemoryBatches(size, batch, iters + 1, seed: 1);
        var clock = new StepClock();
        new TrainingLoop<DetectionBatch>(new LoopSetup<DetectionBatch>
        {
            Task = task,
            Train = source,
            Options = DetectionTraining.LoopOptions(options, task.ModelName),
            Observer = clock,
        }).Run();
        student.Dispose();
        return (clock.Steps.Skip(1).ToList(), clock.FirstLoss);
    }

    private static (double Best, double Median) Summarise(IReadOnlyList<double> times)
    {
        var sorted = times.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        return (sorted[0], median);
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static Dictionary<string, (double Best, double Median)> RunPyTorch(string python, string? blasDir, string[] modes, int size, int batch,
        int threads, int iters, bool reportCore)
    {
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            Path.Combine(BenchArgs.RepoRoot(), "bench", "python", "vidt_step_bench.py"), "--modes", string.Join(',', modes), "--size", $"{size}",
            "--batch", $"{batch}", "--threads", $"{threads}", "--iters", $"{iters}",
        })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["OMP_WAIT_POLICY"] = "passive";
        psi.Environment["OMP_NUM_THREADS"] = $"{threads}";
        psi.Environment["OPENBLAS_CORETYPE"] = "SkylakeX";
        psi.Environment["OPENBLAS_VERBOSE"] = "2";
        if (blasDir is not null)
        {
            psi.Environment["LD_LIBRARY_PATH"] = blasDir;
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {python}.");
        var errTask = process.StandardError.ReadToEndAsync();
        var result = new Dictionary<string, (double Best, double Median)>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            if (!line.StartsWith('{'))
            {
                if (!reportCore)
                {
                    continue;
                }
                // OpenBLAS's verbose core line ("Core: SkylakeX") goes to stdout.
                Console.WriteLine($"PyTorch    {line}");
                continue;
            }
            using var doc = JsonDocument.Parse(line);
            var mode = doc.RootElement.GetProperty("mode").GetString()!;
            var times = doc.RootElement.GetProperty("seconds").EnumerateArray().Select(e => e.GetDouble()).ToList();
            var loss = doc.RootElement.GetProperty("first_loss").GetDouble();
            result[mode] = Summarise(times);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"PyTorch    {mode,-12} best {batch / result[mode].Best,6:F2} img/s, median {batch / result[mode].Median,6:F2} img/s (steps {string.Join(" ", times.Select(t => t.ToString("F2", CultureInfo.InvariantCulture)))} s; first loss {loss:F3})"));
        }
        process.WaitForExit();
        var err = errTask.Result;
        foreach (var core in err.Split('\n').Where(l => reportCore && l.StartsWith("Core", StringComparison.Ordinal)).Distinct())
        {
            Console.WriteLine($"PyTorch    OpenBLAS {core.Trim()}");
        }
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"PyTorch side failed ({process.ExitCode}): {err}");
        }
        return result;
    }

    /// <summary>Wall time between the loop's iteration reports (the first from the start of the epoch).</summary>
    private sealed class StepClock : ITrainingObserver
    {
        private readonly Stopwatch _watch = new();
        private double _last;

        public List<double> Steps { get; } = [];

        public double FirstLoss { get; private set; } = double.NaN;

        public void OnEpochStart(int epoch)
        {
            _watch.Restart();
            _last = 0;
        }

        public void OnIteration(IterationReport report)
        {
            var now = _watch.Elapsed.TotalSeconds;
            Steps.Add(now - _last);
            _last = now;
            if (Steps.Count == 1)
            {
                FirstLoss = report.Total;
            }
        }
    }

    /// <summary>
    /// Padded batches built before the loop starts (so decoding costs nothing inside a step): image 0 of each batch is
    /// size × size, the others have sides drawn from [0.6·size, size] and are padded; 1–4 objects per image with sides
    /// from size/5 to size/2 (as the evidence's generated scenes), labels 1–10. Every batch is a fresh copy of the same
    /// images, since the loop disposes what it is given.
    /// </summary>
    private sealed class InMemoryBatches : IBatchSource<DetectionBatch>, IDisposable
    {
        private readonly Queue<DetectionBatch> _batches = new();

        public InMemoryBatches(int size, int batch, int count, int seed)
        {
            var rng = new Random(seed);
            var images = new List<(DetectionImage Image, DetectionTarget Target)>();
            for (var i = 0; i < batch; i++)
            {
                int h = i == 0 ? size : rng.Next((int)(0.6 * size), size + 1), w = i == 0 ? size : rng.Next((int)(0.6 * size), size + 1);
                var rgba = new byte[h * w * 4];
                rng.NextBytes(rgba);
                var objects = rng.Next(1, 5);
                var boxes = new float[objects * 4];
                var labels = new long[objects];
                var area = new float[objects];
                for (var o = 0; o < objects; o++)
                {
                    float bw = Math.Min(w, rng.Next(size / 5, (size / 2) + 1)), bh = Math.Min(h, rng.Next(size / 5, (size / 2) + 1));
                    float x1 = (float)(rng.NextDouble() * (w - bw)), y1 = (float)(rng.NextDouble() * (h - bh));
                    (boxes[o * 4], boxes[(o * 4) + 1], boxes[(o * 4) + 2], boxes[(o * 4) + 3]) = (x1, y1, x1 + bw, y1 + bh);
                    labels[o] = rng.Next(1, NumClasses);
                    area[o] = bw * bh;
                }
                images.Add((new DetectionImage(w, h, rgba), new DetectionTarget(i, boxes, labels, area, new bool[objects], (h, w), (h, w))));
            }
            for (var b = 0; b < count; b++)
            {
                _batches.Enqueue(new DetectionBatch(images.Select(x => DetectionExample.Create(x.Image, x.Target)).ToList()));
            }
            Count = batch * count;
            BatchesPerEpoch = count;
        }

        public int Count { get; }

        public int BatchesPerEpoch { get; }

        public IEnumerable<DetectionBatch> GetEpoch(int epoch, int startBatch = 0)
        {
            while (_batches.TryDequeue(out var batch))
            {
                yield return batch;
            }
        }

        public void Dispose()
        {
            while (_batches.TryDequeue(out var batch))
            {
                batch.Dispose();
            }
        }
    }
}
