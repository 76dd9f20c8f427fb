using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using VkD.Generation.Models;
using VkD.Generation.Training;
using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// One BigGAN D step and one G step (DiffAugment translation+cutout, hinge, LeCam active, Adam, toggle_grads; 32×32,
/// 3 channels, 10 classes, no distillation) through <see cref="GanTask"/> — the code path the training loop runs,
/// minus its NaN check — against the PyTorch 1.13 restatement (bench/python/gan_bench.py), interleaved: each round
/// times every width on the C# side, then runs the Python side once; the median over rounds is reported, and the
/// load average before and after. Options: <c>--chs 16,64 --batch 50 --threads 2 --iters 3 --rounds 2
/// --python /usr/bin/python3 --no-python</c>. Run it as
/// <c>OMP_WAIT_POLICY=passive dotnet run --project bench/VkD.Bench -c Release -- gan</c>.
/// </summary>
public sealed class GanBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "gan";

    /// <inheritdoc />
    public string Description => "BigGAN 32x32 D step and G step img/s (batch 50, ch 16 and 64) vs the PyTorch restatement";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var chs = (BenchArgs.Option(args, "--chs") ?? "16,64").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var batch = BenchArgs.IntOption(args, "--batch", 50);
        var threads = BenchArgs.IntOption(args, "--threads", 2);
        var iters = BenchArgs.IntOption(args, "--iters", 3);
        var rounds = BenchArgs.IntOption(args, "--rounds", 2);
        var python = BenchArgs.Option(args, "--python") ?? "/usr/bin/python3";
        var noPython = args.Contains("--no-python");
        set_num_threads(threads);
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
        {
            Console.Error.WriteLine("note: OMP_WAIT_POLICY is unset for TorchSharp while PyTorch runs with 'passive'; set it for a like-for-like comparison on a shared machine.");
        }
        var loadBefore = LoadAverage();
        var ours = new Dictionary<(int Ch, string Step), List<double>>();
        var theirs = new Dictionary<(int Ch, string Step), List<double>>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var ch in chs)
            {
                foreach (var (step, seconds) in Measure(ch, batch, iters))
                {
                    Add(ours, (ch, step), seconds);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} TorchSharp ch {ch,3} {step} step {batch / seconds,8:F1} img/s ({seconds:F3} s)"));
                }
            }
            if (!noPython)
            {
                foreach (var (key, seconds) in RunPyTorch(python, chs, batch, threads, iters))
                {
                    Add(theirs, key, seconds);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} PyTorch    ch {key.Ch,3} {key.Step} step {batch / seconds,8:F1} img/s ({seconds:F3} s)"));
                }
            }
        }
        var loadAfter = LoadAverage();
        Console.WriteLine();
        Console.WriteLine($"# batch {batch} (real images per step; a D step also generates {batch} fakes and runs D on {2 * batch}), {threads} threads, " +
            $"median of {iters} timed steps after 1 warm-up, median over {rounds} interleaved rounds; load average before {loadBefore}, after {loadAfter}");
        Console.WriteLine("| ch | step | TorchSharp img/s | PyTorch 1.13 img/s | ratio TS/PT |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var ch in chs)
        {
            foreach (var step in new[] { "d", "g" })
            {
                var ts = batch / Median(ours[(ch, step)]);
                var pt = theirs.TryGetValue((ch, step), out var p) ? batch / Median(p) : double.NaN;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {ch} | {(step == "d" ? "D" : "G")} | {ts:F1} | {(double.IsNaN(pt) ? "-" : pt.ToString("F1", CultureInfo.InvariantCulture))} | {(double.IsNaN(pt) ? "-" : (ts / pt).ToString("F2", CultureInfo.InvariantCulture))} |"));
            }
            // The reference's iteration: 4 D steps (4 batches of real images) and 1 G step.
            var tsIter = 4 * Median(ours[(ch, "d")]) + Median(ours[(ch, "g")]);
            var ptIter = theirs.ContainsKey((ch, "d")) ? 4 * Median(theirs[(ch, "d")]) + Median(theirs[(ch, "g")]) : double.NaN;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {ch} | iteration (4 D + 1 G) | {tsIter:F2} s | {(double.IsNaN(ptIter) ? "-" : ptIter.ToString("F2", CultureInfo.InvariantCulture) + " s")} | {(double.IsNaN(ptIter) ? "-" : (ptIter / tsIter).ToString("F2", CultureInfo.InvariantCulture))} |"));
        }
        return 0;
    }

    private static void Add(Dictionary<(int, string), List<double>> d, (int, string) key, double v)
    {
        if (!d.TryGetValue(key, out var list))
        {
            d[key] = list = [];
        }
        list.Add(v);
    }

    // Seconds of one D step (phase 0) and one G step (phase 1) of a one-D-step GanTask, median of iters after a warm-up.
    private static IEnumerable<(string Step, double Seconds)> Measure(int ch, int batch, int iters)
    {
        manual_seed(0);
        var config = new BigGanConfig { Ch = ch, NumClasses = 10, Channels = 3 };
        using var task = new GanTask(config, new GanTrainingOptions { BatchSize = batch, DSteps = 1, LeCamStart = 0 });
        task.SetTraining(true);
        using var images = rand(batch, 3, 32, 32) * 2 - 1;
        using var labels = randint(0, 10, [batch]);
        var gb = new GanBatch(images, labels, [.. Enumerable.Range(0, batch)]);
        var results = new List<(string, double)>();
        foreach (var (step, phase) in new[] { ("d", 0), ("g", 1) })
        {
            var times = new List<double>();
            for (var i = 0; i <= iters; i++)
            {
                var slot = task.Optimizers[phase];
                var sw = Stopwatch.StartNew();
                using (NewDisposeScope())
                {
                    var terms = task.ComputeLoss(phase, gb, new StepContext(0, i, 10 + i, 0));
                    slot.Optimizer.ZeroGrad();
                    terms.Total.backward();
                    slot.Optimizer.Step();
                }
                if (i > 0)
                {
                    times.Add(sw.Elapsed.TotalSeconds);
                }
            }
            results.Add((step, Median(times)));
        }
        return results;
    }

    private static List<((int Ch, string Step), double)> RunPyTorch(string python, int[] chs, int batch, int threads, int iters)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            Path.Combine(BenchArgs.RepoRoot(), "bench", "python", "gan_bench.py"), "--chs", string.Join(',', chs), "--batch", $"{batch}",
            "--threads", $"{threads}", "--iters", $"{iters}",
        })
        {
            psi.ArgumentList.Add(a);
        }
        // Debian's PyTorch needs passive OpenMP waiting to not fight OpenBLAS (torchsharp-notes §7).
        psi.Environment["OMP_WAIT_POLICY"] = "passive";
        psi.Environment["OMP_NUM_THREADS"] = $"{threads}";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {python}.");
        var result = new List<((int, string), double)>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            result.Add(((r.GetProperty("ch").GetInt32(), r.GetProperty("step").GetString()!), r.GetProperty("seconds").GetDouble()));
        }
        var err = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"PyTorch side failed ({process.ExitCode}): {err}");
        }
        return result;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static double Median(List<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }
}
