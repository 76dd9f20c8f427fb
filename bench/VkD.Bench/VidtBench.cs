using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using VkD.Detection.Models;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// ViDT-nano eval forward throughput (images/s, no autograd, random weights and input, square images, no padding)
/// against the PyTorch 1.13 restatement of tools/fixtures/make_vidt_fixtures.py run in the same invocation
/// (bench/python/vidt_bench.py). Best of a few timed forwards after one warm-up.
/// Options: <c>--sizes 512,800 --batch 1 --threads 2 --iters 2 --python /usr/bin/python3 --blas-dir DIR --no-python</c>;
/// <c>--blas-dir</c> puts a folder with OpenBLAS's <c>libblas.so.3</c> first on the PyTorch process's library path (for
/// machines where the system BLAS is Debian's reference one, which makes PyTorch's GEMMs ~30× slower).
/// Run it as <c>OMP_WAIT_POLICY=passive dotnet run --project bench/VkD.Bench -c Release -- vidt</c>; the PyTorch side gets
/// <c>OMP_WAIT_POLICY=passive</c> and <c>OPENBLAS_CORETYPE=SkylakeX</c> (Debian's OpenBLAS 0.3.21 does not recognise
/// this CPU and falls back to SSE3 kernels otherwise), set for that process only.
/// </summary>
public sealed class VidtBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "vidt";

    /// <inheritdoc />
    public string Description => "ViDT-nano eval forward img/s at 512 and 800 px vs the PyTorch restatement";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var sizes = (BenchArgs.Option(args, "--sizes") ?? "512,800").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var batch = BenchArgs.IntOption(args, "--batch", 1);
        var threads = BenchArgs.IntOption(args, "--threads", 2);
        var iters = BenchArgs.IntOption(args, "--iters", 2);
        var python = BenchArgs.Option(args, "--python") ?? "/usr/bin/python3";
        var blasDir = BenchArgs.Option(args, "--blas-dir");
        torch.set_num_threads(threads);
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
        {
            Console.Error.WriteLine("note: OMP_WAIT_POLICY is unset for TorchSharp while PyTorch runs with 'passive'; set it for a like-for-like comparison on a shared machine.");
        }
        var ours = new Dictionary<int, double>();
        torch.manual_seed(0);
        using (var model = new VidtDetector(VidtConfig.Nano))
        {
            model.eval();
            foreach (var size in sizes)
            {
                ours[size] = Measure(model, batch, size, iters);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"TorchSharp {size,4} px {batch / ours[size],8:F2} img/s ({ours[size]:F3} s/batch)"));
            }
        }
        var theirs = args.Contains("--no-python") ? [] : RunPyTorch(python, blasDir, sizes, batch, threads, iters);
        Console.WriteLine();
        Console.WriteLine("| input | TorchSharp img/s | PyTorch 1.13 img/s | ratio TS/PT |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var size in sizes)
        {
            var ts = batch / ours[size];
            var pt = theirs.TryGetValue(size, out var s) ? batch / s : double.NaN;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {batch} x {size}x{size} | {ts:F2} | {(double.IsNaN(pt) ? "-" : pt.ToString("F2", CultureInfo.InvariantCulture))} | {(double.IsNaN(pt) ? "-" : (ts / pt).ToString("F2", CultureInfo.InvariantCulture))} |"));
        }
        return 0;
    }

    private static double Measure(VidtDetector model, int batch, int size, int iters)
    {
        using var x = torch.randn(batch, 3, size, size);
        using var mask = torch.zeros(batch, size, size, ScalarType.Bool);
        using var noGrad = torch.no_grad();
        using (model.forward(x, mask))
        {
        }
        var best = double.MaxValue;
        for (var i = 0; i < iters; i++)
        {
            var sw = Stopwatch.StartNew();
            using (model.forward(x, mask))
            {
            }
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static Dictionary<int, double> RunPyTorch(string python, string? blasDir, int[] sizes, int batch, int threads, int iters)
    {
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            Path.Combine(BenchArgs.RepoRoot(), "bench", "python", "vidt_bench.py"), "--sizes", string.Join(',', sizes), "--batch", $"{batch}",
            "--threads", $"{threads}", "--iters", $"{iters}",
        })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["OMP_WAIT_POLICY"] = "passive";
        psi.Environment["OMP_NUM_THREADS"] = $"{threads}";
        psi.Environment["OPENBLAS_CORETYPE"] = "SkylakeX";
        if (blasDir is not null)
        {
            psi.Environment["LD_LIBRARY_PATH"] = blasDir;
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {python}.");
        var result = new Dictionary<int, double>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            using var doc = JsonDocument.Parse(line);
            var size = doc.RootElement.GetProperty("size").GetInt32();
            result[size] = doc.RootElement.GetProperty("seconds").GetDouble();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PyTorch    {size,4} px {batch / result[size],8:F2} img/s ({result[size]:F3} s/batch)"));
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
