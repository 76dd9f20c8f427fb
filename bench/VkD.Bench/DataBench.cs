using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SkiaSharp;
using VkD.Data.Datasets;
using VkD.Data.Loading;
using VkD.Data.Transforms;

namespace VkD.Bench;

/// <summary>Decode + training augmentation throughput of <see cref="BatchLoader"/> against PIL + torchvision
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
        if (args.Contains("--decode"))
        {
            // Decode only, results dropped at once: isolates the codec from GC and cache effects.
            using var self = Process.GetCurrentProcess();
            for (int rep = 0; rep < 3; rep++)
            {
                self.Refresh();
                var t0 = self.TotalProcessorTime;
                for (int i = 0; i < Math.Min(images, 128); i++)
                {
                    dataset.LoadImage(i);
                }
                self.Refresh();
                Console.WriteLine($"decode {(self.TotalProcessorTime - t0).TotalMilliseconds / Math.Min(images, 128):F2} CPU ms/image");
            }
            return 0;
        }
        if (args.Contains("--profile"))
        {
            Profile(dataset, size);
            return 0;
        }
        // 1) Per-core cost, measured as CPU time so other load on the machine does not distort it.
        var csStages = Profile(dataset, size, print: false);
        var pyStages = python ? RunPythonJson(root, $"--profile --size {size}") : null;
        // The whole single-thread loader, C# and Python alternating; the minimum of 3 rounds filters out other load.
        Dictionary<string, double>? pyLoader = null;
        for (int round = 0; round < 3; round++)
        {
            var cs = Profile(dataset, size, print: false, loaderOnly: true);
            var key = "loader (3-Augment pipeline, 0 workers)";
            csStages[key] = Math.Min(csStages[key], cs[key]);
            var py = python ? RunPythonJson(root, $"--workers 0 --epochs 1 --size {size}") : null;
            if (py is not null && (pyLoader is null || py["cpu_ms_per_image"] < pyLoader["cpu_ms_per_image"]))
            {
                pyLoader = py;
            }
        }
        Console.WriteLine();
        Console.WriteLine("| stage (1 thread) | VkD.NET CPU ms/image | PIL+torchvision CPU ms/image | speed ratio (PIL / VkD.NET) |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var (stage, ms) in csStages)
        {
            var source = stage.StartsWith("loader", StringComparison.Ordinal) ? pyLoader : pyStages;
            var key = stage.StartsWith("loader", StringComparison.Ordinal) ? "cpu_ms_per_image" : stage;
            double? py = source is not null && source.TryGetValue(key, out var found) ? found : null;
            var pyText = py is double v ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";
            var ratio = py is double w ? (w / ms).ToString("F2", CultureInfo.InvariantCulture) : "-";
            Console.WriteLine($"| {stage} | {ms:F2} | {pyText} | {ratio} |");
        }

        // 2) Wall-clock throughput of the whole loader, C# and Python alternating in the same run.
        Console.WriteLine();
        Console.WriteLine("| pipeline | workers | VkD.NET img/s | PIL+torchvision img/s | ratio |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var workers in new[] { 1, 2 })
        {
            var vkd = Measure(dataset, TransformPipelines.Train(TrainAugmentOptions.VkDThreeAugment(size)), workers);
            var py = python ? RunPythonJson(root, $"--workers {workers} --size {size}")?.GetValueOrDefault("images_per_s") : null;
            var pyText = py is double p ? p.ToString("F1", CultureInfo.InvariantCulture) : "-";
            var ratio = py is double q ? (vkd / q).ToString("F2", CultureInfo.InvariantCulture) : "-";
            Console.WriteLine($"| VkD 3-Augment | {workers} | {vkd:F1} | {pyText} | {ratio} |");
        }
        foreach (var workers in new[] { 1, 2 })
        {
            Console.WriteLine($"| DeiT RandAugment + erasing (C# only) | {workers} | {Measure(dataset, TransformPipelines.Train(TrainAugmentOptions.DeiT(size)), workers):F1} | - | - |");
            Console.WriteLine($"| eval resize + centre crop (C# only) | {workers} | {Measure(dataset, TransformPipelines.Eval(size), workers):F1} | - | - |");
        }
        return 0;
    }

    /// <summary>Single-threaded CPU time per stage (decode, crop/resize, 3-Augment, jitter, RandAugment, normalise) and
    /// of the whole 3-Augment pipeline through the loader, in CPU ms/image: robust to other load on the machine.</summary>
    private static Dictionary<string, double> Profile(IImageDataset dataset, int size, bool print = true, bool loaderOnly = false)
    {
        int n = Math.Min(dataset.Count, 128);
        var rng = new VkD.Data.DeterministicRandom(1);
        var rrc = new RandomResizedCrop(size);
        var three = new ThreeAugment();
        var jitter = new ColorJitter(0.3, 0.3, 0.3);
        var ra = new RandAugment("rand-m9-mstd0.5-inc1", Normalization.ImageNet.MeanBytes);
        var buffer = new float[3 * size * size];
        var result = new Dictionary<string, double>();
        for (int rep = 0; rep < 2; rep++)
        {
            if (loaderOnly)
            {
                var only = new BatchLoader(new SubsetView(dataset, n), TransformPipelines.Train(TrainAugmentOptions.VkDThreeAugment(size)), 32, shuffle: true, seed: 1);
                Stage(result, "loader (3-Augment pipeline, 0 workers)", n, () => Drain(only, rep));
                continue;
            }
            Stage(result, "decode", n, () =>
            {
                for (int i = 0; i < n; i++)
                {
                    dataset.LoadImage(i);
                }
                return 0;
            });
            var decoded = Enumerable.Range(0, n).Select(dataset.LoadImage).ToList();
            var cropped = Stage(result, "random resized crop", n, () => decoded.Select(i => rrc.Apply(i, rng)).ToList());
            var augmented = Stage(result, "3-Augment", n, () => cropped.Select(i => three.Apply(i.Clone(), rng)).ToList());
            Stage(result, "color jitter", n, () => augmented.Select(i => jitter.Apply(i, rng)).ToList());
            Stage(result, "RandAugment", n, () => cropped.Select(i => ra.Apply(i.Clone(), rng)).ToList());
            Stage(result, "normalise", n, () =>
            {
                foreach (var i in augmented)
                {
                    Normalization.ImageNet.Apply(i, buffer);
                }
                return 0;
            });
            var loader = new BatchLoader(new SubsetView(dataset, n), TransformPipelines.Train(TrainAugmentOptions.VkDThreeAugment(size)), 32, shuffle: true, seed: 1);
            Stage(result, "loader (3-Augment pipeline, 0 workers)", n, () => Drain(loader, rep));
        }
        if (print)
        {
            foreach (var (name, ms) in result)
            {
                Console.WriteLine($"{name,-40} {ms,7:F2} CPU ms/image");
            }
        }
        return result;
    }

    private static T Stage<T>(Dictionary<string, double> result, string name, int n, Func<T> work)
    {
        using var self = Process.GetCurrentProcess();
        var t0 = self.TotalProcessorTime;
        var value = work();
        self.Refresh();
        result[name] = (self.TotalProcessorTime - t0).TotalMilliseconds / n;
        return value;
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
        var loader = new BatchLoader(dataset, pipeline, 32, shuffle: true, seed: 1, numWorkers: workers, prefetchBatches: 4);
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

    private static int Drain(BatchLoader loader, int epoch)
    {
        int n = 0;
        foreach (var b in loader.GetEpoch(epoch))
        {
            n += b.Count;
            b.Dispose();
        }
        return n;
    }

    private static Dictionary<string, double>? RunPythonJson(string root, string extraArgs)
    {
        var script = FindUp("bench/python/data_bench.py");
        if (script is null)
        {
            Console.Error.WriteLine("bench/python/data_bench.py not found; skipping the PIL side.");
            return null;
        }
        var psi = new ProcessStartInfo("/usr/bin/python3", $"{script} --root {root} {extraArgs}")
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
        return doc.RootElement.EnumerateObject()
            .Where(e => e.Value.ValueKind == JsonValueKind.Number)
            .ToDictionary(e => e.Name, e => e.Value.GetDouble());
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
