using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SkiaSharp;
using VkD.Data.Datasets;
using VkD.Data.Loading;
using VkD.Data.Transforms;

namespace VkD.Bench;

/// <summary>Decode + training augmentation throughput of <see cref="DataLoader"/> against PIL + torchvision
/// (bench/python/data_bench.py) on the same generated 500x375 JPEGs, at 1 and 2 workers.</summary>
public sealed class DataBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "data";

    /// <inheritdoc />
    public string Description => "images/s of JPEG decode + train augmentation vs PIL/torchvision (--images N --size S --no-python)";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        int images = IntArg(args, "--images", 256);
        int size = IntArg(args, "--size", 224);
        bool python = !args.Contains("--no-python");
        var root = Path.Combine(Path.GetTempPath(), $"vkd-data-bench-{images}");
        Generate(root, images);
        Console.WriteLine($"{images} JPEGs of 500x375 in {root}; output {size}x{size}; batch 32");
        var dataset = new ImageFolderDataset(root);
        if (args.Contains("--profile"))
        {
            Profile(dataset, size);
            return 0;
        }
        var results = new List<(string Pipeline, int Workers, double CSharp, double? Python)>();
        foreach (var workers in new[] { 1, 2 })
        {
            var vkd = Measure(dataset, TransformPipelines.Train(TrainAugmentOptions.VkDThreeAugment(size)), workers);
            double? py = python ? RunPython(root, workers, size) : null;
            results.Add(("VkD 3-Augment", workers, vkd, py));
            var deit = Measure(dataset, TransformPipelines.Train(TrainAugmentOptions.DeiT(size)), workers);
            results.Add(("DeiT RandAugment+RE", workers, deit, null));
            var eval = Measure(dataset, TransformPipelines.Eval(size), workers);
            results.Add(("eval resize+crop", workers, eval, null));
        }
        Console.WriteLine();
        Console.WriteLine("| pipeline | workers | VkD.NET img/s | PIL+torchvision img/s | ratio |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var r in results)
        {
            var py = r.Python is double p ? p.ToString("F1", CultureInfo.InvariantCulture) : "-";
            var ratio = r.Python is double q ? (r.CSharp / q).ToString("F2", CultureInfo.InvariantCulture) : "-";
            Console.WriteLine($"| {r.Pipeline} | {r.Workers} | {r.CSharp:F1} | {py} | {ratio} |");
        }
        return 0;
    }

    /// <summary>Single-threaded time per stage (decode, crop/resize, 3-Augment, jitter, normalise), in ms/image.</summary>
    private static void Profile(IImageDataset dataset, int size)
    {
        var rng = new VkD.Data.DeterministicRandom(1);
        var rrc = new RandomResizedCrop(size);
        var three = new ThreeAugment();
        var jitter = new ColorJitter(0.3, 0.3, 0.3);
        var ra = new RandAugment("rand-m9-mstd0.5-inc1", Normalization.ImageNet.MeanBytes);
        var buffer = new float[3 * size * size];
        var times = new double[6];
        int n = Math.Min(dataset.Count, 128);
        for (int rep = 0; rep < 2; rep++)
        {
            Array.Clear(times);
            for (int i = 0; i < n; i++)
            {
                var sw = Stopwatch.StartNew();
                var img = dataset.LoadImage(i);
                times[0] += sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                img = rrc.Apply(img, rng);
                times[1] += sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                var a = three.Apply(img.Clone(), rng);
                times[2] += sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                a = jitter.Apply(a, rng);
                times[3] += sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                ra.Apply(img.Clone(), rng);
                times[4] += sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                Normalization.ImageNet.Apply(a, buffer);
                times[5] += sw.Elapsed.TotalMilliseconds;
            }
        }
        var pipeline = TransformPipelines.Train(TrainAugmentOptions.VkDThreeAugment(size));
        foreach (var workers in new[] { 0, 1 })
        {
            var loader = new DataLoader(new SubsetView(dataset, n), pipeline, 32, shuffle: true, seed: 1, numWorkers: workers);
            Drain(loader, 0);
            var sw = Stopwatch.StartNew();
            int count = Drain(loader, 1);
            Console.WriteLine($"loader, {workers} workers:  {sw.Elapsed.TotalMilliseconds / count,7:F2} ms/image (3-Augment pipeline)");
        }
        string[] names = ["decode", "random resized crop", "3-Augment", "color jitter", "RandAugment", "normalise"];
        for (int k = 0; k < names.Length; k++)
        {
            Console.WriteLine($"{names[k],-22} {times[k] / n,7:F2} ms/image");
        }
    }

    /// <summary>The first <c>count</c> images of a dataset.</summary>
    private sealed class SubsetView(IImageDataset inner, int count) : IImageDataset
    {
        public int Count => count;

        public IReadOnlyList<string> ClassNames => inner.ClassNames;

        public int GetLabel(int index) => inner.GetLabel(index);

        public VkD.Data.Imaging.ImageU8 LoadImage(int index) => inner.LoadImage(index);

        public string Describe(int index) => inner.Describe(index);
    }

    private static double Measure(IImageDataset dataset, TransformPipeline pipeline, int workers)
    {
        var loader = new DataLoader(dataset, pipeline, 32, shuffle: true, seed: 1, numWorkers: workers, prefetchBatches: 4);
        Drain(loader, 0);
        double best = 0;
        for (int epoch = 1; epoch <= 2; epoch++)
        {
            var sw = Stopwatch.StartNew();
            int n = Drain(loader, epoch);
            best = Math.Max(best, n / sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static int Drain(DataLoader loader, int epoch)
    {
        int n = 0;
        foreach (var b in loader.GetEpoch(epoch))
        {
            n += b.Count;
            b.Dispose();
        }
        return n;
    }

    private static double? RunPython(string root, int workers, int size)
    {
        var script = FindUp("bench/python/data_bench.py");
        if (script is null)
        {
            Console.Error.WriteLine("bench/python/data_bench.py not found; skipping the PIL side.");
            return null;
        }
        var psi = new ProcessStartInfo("/usr/bin/python3", $"{script} --root {root} --workers {workers} --size {size}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["OMP_WAIT_POLICY"] = "passive";
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            Console.Error.WriteLine($"python failed ({p.ExitCode}): {stderr}");
            return null;
        }
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.GetProperty("images_per_s").GetDouble();
    }

    private static string? FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>Writes <paramref name="count"/> photo-like 500x375 JPEGs (smooth colour fields, edges and noise,
    /// quality 90) in 4 class folders, once.</summary>
    private static void Generate(string root, int count)
    {
        if (Directory.Exists(root) && Directory.EnumerateFiles(root, "*.jpg", SearchOption.AllDirectories).Count() == count)
        {
            return;
        }
        if (Directory.Exists(root))
        {
            Directory.Delete(root, true);
        }
        var rnd = new Random(42);
        const int w = 500, h = 375;
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var px = new byte[w * h * 4];
        for (int i = 0; i < count; i++)
        {
            double fx = rnd.NextDouble() * 0.05, fy = rnd.NextDouble() * 0.05, phase = rnd.NextDouble() * 6;
            int edge = rnd.Next(100, 400);
            for (int y = 0; y < h; y++)
            {
                for (int x = 0; x < w; x++)
                {
                    int o = (y * w + x) * 4;
                    double s = Math.Sin(x * fx + phase) * Math.Cos(y * fy);
                    int noise = rnd.Next(-12, 13);
                    px[o] = Clip(128 + 90 * s + noise + (x > edge ? 40 : 0));
                    px[o + 1] = Clip(255.0 * y / h + noise);
                    px[o + 2] = Clip(128 - 80 * s + noise);
                    px[o + 3] = 255;
                }
            }
            using var bmp = new SKBitmap(info);
            System.Runtime.InteropServices.Marshal.Copy(px, 0, bmp.GetPixels(), px.Length);
            using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 90);
            var dir = Path.Combine(root, $"class{i % 4}");
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, $"img{i:D4}.jpg"), data.ToArray());
        }
    }

    private static byte Clip(double v) => (byte)Math.Clamp((int)v, 0, 255);

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }
}
