using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// Eval throughput (images/s, no autograd) of the zoo's reference models against PyTorch 1.13 re-statements run in
/// the same invocation (bench/python/model_bench.py). Best of a few timed batches after one warm-up batch.
/// Options: <c>--batch 32 --img 224 --threads 2 --models a,b --python /usr/bin/python3 --no-python</c>.
/// Run it as <c>OMP_WAIT_POLICY=passive dotnet run --project bench/VkD.Bench -c Release -- models</c>: the PyTorch side
/// always gets passive waiting, and on a shared, loaded machine libtorch's default spinning OpenMP threads lose about
/// half their speed (measured: deit_tiny 3.4 → 6.1 img/s at load ≈ 25 on 2 cores).
/// </summary>
public sealed class ModelBench : IBenchSuite
{
    private static readonly (string Name, int Iters)[] DefaultModels =
        [("deit_tiny_patch16_224", 2), ("deit_ti_distilled", 2), ("resnet18", 2), ("regnety_160", 1)];

    /// <inheritdoc />
    public string Name => "models";

    /// <inheritdoc />
    public string Description => "Eval throughput of deit_tiny, deit_ti_distilled, resnet18, regnety_160 vs PyTorch";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var batch = BenchArgs.IntOption(args, "--batch", 32);
        var img = BenchArgs.IntOption(args, "--img", 224);
        var threads = BenchArgs.IntOption(args, "--threads", 2);
        var python = BenchArgs.Option(args, "--python") ?? "/usr/bin/python3";
        var selected = BenchArgs.Option(args, "--models")?.Split(',') ?? DefaultModels.Select(m => m.Name).ToArray();
        var models = selected.Select(n => (Name: n, Iters: DefaultModels.FirstOrDefault(m => m.Name == n).Iters is > 0 and var i ? i : 3)).ToList();
        torch.set_num_threads(threads);
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
        {
            Console.Error.WriteLine("note: OMP_WAIT_POLICY is unset for TorchSharp while PyTorch runs with 'passive'; set it for a like-for-like comparison on a shared machine.");
        }

        var ours = new Dictionary<string, double>();
        torch.manual_seed(0);
        using (var x = torch.randn(batch, 3, img, img))
        {
            foreach (var (name, iters) in models)
            {
                ours[name] = Measure(name, x, iters);
                Console.WriteLine($"TorchSharp {name,-24} {batch / ours[name],8:F1} img/s ({ours[name]:F3} s/batch)");
            }
        }

        var theirs = args.Contains("--no-python") ? [] : RunPyTorch(python, models, batch, img, threads);
        Console.WriteLine();
        Console.WriteLine($"| model | params | TorchSharp img/s | PyTorch 1.13 img/s | ratio TS/PT |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var (name, _) in models)
        {
            using var m = ModelRegistry.Create(name);
            var parameters = m.parameters().Sum(p => p.numel()) / 1e6;
            var ts = batch / ours[name];
            var pt = theirs.TryGetValue(name, out var s) ? batch / s : double.NaN;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {parameters:F2}M | {ts:F1} | {(double.IsNaN(pt) ? "-" : pt.ToString("F1", CultureInfo.InvariantCulture))} | {(double.IsNaN(pt) ? "-" : (ts / pt).ToString("F2", CultureInfo.InvariantCulture))} |"));
        }
        return 0;
    }

    /// <summary>Best seconds per batch over <paramref name="iters"/> timed forwards after one warm-up.</summary>
    private static double Measure(string name, Tensor x, int iters)
    {
        using var model = ModelRegistry.Create(name);
        model.eval();
        using var noGrad = torch.no_grad();
        using (model.forward(x))
        {
        }
        var best = double.MaxValue;
        for (var i = 0; i < iters; i++)
        {
            var sw = Stopwatch.StartNew();
            using (model.forward(x))
            {
            }
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static Dictionary<string, double> RunPyTorch(string python, List<(string Name, int Iters)> models, int batch, int img, int threads)
    {
        var script = Path.Combine(BenchArgs.RepoRoot(), "bench", "python", "model_bench.py");
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            script, "--models", string.Join(',', models.Select(m => m.Name)), "--batch", $"{batch}", "--img", $"{img}",
            "--threads", $"{threads}", "--iters", string.Join(',', models.Select(m => $"{m.Name}={m.Iters}")),
        })
        {
            psi.ArgumentList.Add(a);
        }
        // Debian's PyTorch needs passive OpenMP waiting to not fight OpenBLAS (torchsharp-notes §7).
        psi.Environment["OMP_WAIT_POLICY"] = "passive";
        psi.Environment["OMP_NUM_THREADS"] = $"{threads}";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {python}.");
        var result = new Dictionary<string, double>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            using var doc = JsonDocument.Parse(line);
            var name = doc.RootElement.GetProperty("model").GetString()!;
            result[name] = doc.RootElement.GetProperty("seconds").GetDouble();
            Console.WriteLine($"PyTorch    {name,-24} {batch / result[name],8:F1} img/s ({result[name]:F3} s/batch)");
        }
        var err = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"PyTorch side failed ({process.ExitCode}): {err}");
        }
        return result;
    }
}
