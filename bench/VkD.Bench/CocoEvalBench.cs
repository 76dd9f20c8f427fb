using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VkD.Detection.Evaluation;

namespace VkD.Bench;

/// <summary>
/// COCO evaluation at COCO val scale: a generated ground truth (default 5000 images, 80 categories, ~7 objects per
/// image) and 100 detections per image, loaded from JSON and evaluated. With <c>--python</c> the same files also go
/// through the Python re-statement of COCOeval (tools/fixtures/make_detection_fixtures.py, Debian's numpy) and the
/// 12 numbers are compared exactly.
/// </summary>
public sealed class CocoEvalBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "coco-eval";

    /// <inheritdoc />
    public string Description => "COCO bbox evaluation of N images x 100 detections [--images 5000] [--threads 1,2] [--python]";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var images = IntArg(args, "--images", 5000);
        var perImage = IntArg(args, "--dets", 100);
        var threads = (Arg(args, "--threads") ?? "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var dir = Path.Combine(Path.GetTempPath(), $"vkd-coco-bench-{images}-{perImage}");
        Directory.CreateDirectory(dir);
        var gtPath = Path.Combine(dir, "gt.json");
        var dtPath = Path.Combine(dir, "dt.json");
        var (gt0, dt0) = Make(images, perImage, seed: 0);
        gt0.Save(gtPath);
        CocoResultsFile.Save(dtPath, dt0);
        Console.WriteLine($"{images} images, {gt0.Annotations.Count} objects, {dt0.Count} detections, 80 categories ({new FileInfo(gtPath).Length / 1e6:0.0} MB + {new FileInfo(dtPath).Length / 1e6:0.0} MB JSON)");

        var loadCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var gt = CocoDataset.Load(gtPath);
        var dt = CocoResultsFile.Load(dtPath);
        Console.WriteLine($"load JSON: wall {clock.Elapsed.TotalSeconds:0.00} s, CPU {(Process.GetCurrentProcess().TotalProcessorTime - loadCpu).TotalSeconds:0.00} s");
        CocoEvalResult? result = null;
        foreach (var t in threads)
        {
            CocoEvaluator.Evaluate(gt, dt, new CocoEvalParameters { MaxDegreeOfParallelism = t }); // warm-up
            var times = new List<double>();
            var cpu = new List<double>();
            for (var rep = 0; rep < 3; rep++)
            {
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                clock.Restart();
                result = CocoEvaluator.Evaluate(gt, dt, new CocoEvalParameters { MaxDegreeOfParallelism = t });
                times.Add(clock.Elapsed.TotalSeconds);
                cpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
            }
            // CPU seconds are reported too: wall time on a shared machine depends on the other jobs.
            Console.WriteLine($"evaluate+accumulate+summarize, {t} thread(s): median wall {times.Order().ElementAt(1):0.00} s, median CPU {cpu.Order().ElementAt(1):0.00} s");
        }
        Console.Write(result!.FormatSummary());

        if (Arg(args, "--dump") is { } dump)
        {
            // accumulate()'s precision array in C order [T, R, K, A, M], float64 little-endian, for offline comparison.
            using var writer = new BinaryWriter(File.Create(dump));
            for (var t = 0; t < 10; t++)
            {
                for (var r = 0; r < 101; r++)
                {
                    for (var k = 0; k < result.CategoryIds.Count; k++)
                    {
                        for (var a = 0; a < 4; a++)
                        {
                            for (var m = 0; m < 3; m++)
                            {
                                writer.Write(result.Precision(t, r, k, a, m));
                            }
                        }
                    }
                }
            }
        }
        if (args.Contains("--python"))
        {
            var script = Path.Combine(FindRepoRoot(), "tools", "fixtures");
            var psi = new ProcessStartInfo("/usr/bin/python3")
            {
                ArgumentList = { "-c", "import json,sys,time; sys.path.insert(0, sys.argv[1]); import make_detection_fixtures as m; gt=json.load(open(sys.argv[2])); dt=json.load(open(sys.argv[3])); t=time.time(); s,l=m.coco_eval(gt, dt); print(time.time()-t); print(json.dumps([repr(v) for v in s]))", script, gtPath, dtPath },
                RedirectStandardOutput = true,
            };
            psi.Environment["OMP_NUM_THREADS"] = "1";
            using var p = Process.Start(psi)!;
            var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            p.WaitForExit();
            var seconds = double.Parse(lines[0], CultureInfo.InvariantCulture);
            var stats = JsonSerializer.Deserialize<string[]>(lines[1])!.Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            Console.WriteLine($"Python re-statement of COCOeval (pure Python IoU, 1 thread): {seconds:0.0} s; 12 numbers identical: {stats.SequenceEqual(result.Stats)}");
            for (var i = 0; i < 12; i++)
            {
                if (stats[i] != result.Stats[i])
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {result.Summary[i].Name}: python {stats[i]:R}, ours {result.Stats[i]:R}"));
                }
            }
        }
        return 0;
    }

    /// <summary>A COCO-val-like set: 80 of the 90 raw ids, mixed object sizes, some crowds, detections near the objects
    /// plus clutter up to <paramref name="perImage"/> per image.</summary>
    private static (CocoDataset Gt, List<CocoDetection> Dt) Make(int imageCount, int perImage, int seed)
    {
        var rng = new Random(seed);
        var catIds = Enumerable.Range(1, 90).Where(i => i % 9 != 0).Take(80).Select(i => (long)i).ToArray();
        var images = new List<CocoImage>();
        var anns = new List<CocoAnnotation>();
        var dts = new List<CocoDetection>();
        for (var i = 0; i < imageCount; i++)
        {
            int w = rng.Next(320, 641), h = rng.Next(240, 481);
            var id = 100000 + (i * 7);
            images.Add(new CocoImage(id, $"{id}.jpg", w, h));
            var n = rng.Next(1, 15);
            var imageDts = new List<CocoDetection>();
            for (var o = 0; o < n; o++)
            {
                var box = RandomBox(rng, w, h);
                var cat = catIds[rng.Next(rng.Next(2) == 0 ? 10 : catIds.Length)];
                anns.Add(new CocoAnnotation(anns.Count + 1, id, cat, box, box.Width * box.Height * (0.5 + (0.5 * rng.NextDouble())), rng.NextDouble() < 0.01));
                for (var k = rng.Next(0, 3); k > 0; k--)
                {
                    var s = 0.1 * Math.Max(box.Width, box.Height);
                    var jitter = new BoxXywh(box.X + (s * Normal(rng)), box.Y + (s * Normal(rng)), Math.Max(1, box.Width + (s * Normal(rng))), Math.Max(1, box.Height + (s * Normal(rng))));
                    imageDts.Add(new CocoDetection(id, rng.NextDouble() < 0.8 ? cat : catIds[rng.Next(catIds.Length)], jitter, Math.Round(0.3 + (0.7 * rng.NextDouble()), 4)));
                }
            }
            while (imageDts.Count < perImage)
            {
                imageDts.Add(new CocoDetection(id, catIds[rng.Next(catIds.Length)], RandomBox(rng, w, h), Math.Round(0.4 * rng.NextDouble(), 4)));
            }
            dts.AddRange(imageDts.Take(perImage));
        }
        return (new CocoDataset(images, anns, catIds.Select(c => new CocoCategory(c, $"c{c}", null)).ToList()), dts);
    }

    private static BoxXywh RandomBox(Random rng, int w, int h)
    {
        var side = rng.NextDouble() switch { < 0.4 => 4 + (28 * rng.NextDouble()), < 0.75 => 32 + (64 * rng.NextDouble()), _ => 96 + (200 * rng.NextDouble()) };
        var bw = Math.Min(w - 1, side * (0.6 + rng.NextDouble()));
        var bh = Math.Min(h - 1, side * (0.6 + rng.NextDouble()));
        return new BoxXywh(Math.Round(rng.NextDouble() * (w - bw), 2), Math.Round(rng.NextDouble() * (h - bh), 2), Math.Round(bw, 2), Math.Round(bh, 2));
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int IntArg(string[] args, string name, int fallback) =>
        Arg(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "VkD.slnx")))
            {
                return d.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}
