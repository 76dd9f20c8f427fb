using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using VkD.Interop.Onnx;
using static TorchSharp.torch;

namespace VkD.OnnxDistillDemo;

/// <summary>
/// ONNX teacher demo for docs/results-onnx.md: caches ResNet-18 (ONNX Runtime) features of the tuxpaint photo set,
/// then trains the same student with and without VkD feature distillation from them.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var o = DemoOptions.Parse(args);
        set_num_threads(o.Threads);
        using var train = PhotoFolder.Load(Path.Combine(o.Data, "train"));
        using var val = PhotoFolder.Load(Path.Combine(o.Data, "val"));
        Console.WriteLine($"train {train.Count} images, val {val.Count}, classes {string.Join(",", train.Classes)}");
        var cache = FeatureCache.LoadOrCompute(o, train, val);
        Console.WriteLine($"teacher features: train {string.Join("x", cache.Train.shape)} (+ flipped), val {string.Join("x", cache.Val.shape)}");
        if (o.CacheOnly)
        {
            return 0;
        }
        return Experiment.Run(o, train, val, cache);
    }
}

/// <summary>Command-line options of the demo.</summary>
internal sealed record DemoOptions
{
    public string Data { get; init; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache/vkd/tuxpaint-photos");
    public string ModelDir { get; init; } = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "ResNet18Dir").Value!;
    public string Cache => Path.Combine(Data, "resnet18-onnx-features.bin");
    public bool CacheOnly { get; init; }
    public string Student { get; init; } = "resnet8x4";
    public int Size { get; init; } = 64;
    public int Epochs { get; init; } = 30;
    public int BatchSize { get; init; } = 64;
    public double Lr { get; init; } = 0.05;
    public double Alpha { get; init; } = 1.0;
    public int[] Seeds { get; init; } = [0, 1, 2];
    public int Threads { get; init; } = 2;
    public int Sessions { get; init; } = 1;

    public static DemoOptions Parse(string[] args)
    {
        var o = new DemoOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => args[++i];
            o = args[i] switch
            {
                "--data" => o with { Data = Next() },
                "--model-dir" => o with { ModelDir = Next() },
                "--cache-only" => o with { CacheOnly = true },
                "--student" => o with { Student = Next() },
                "--size" => o with { Size = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--epochs" => o with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--batch-size" => o with { BatchSize = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--lr" => o with { Lr = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--alpha" => o with { Alpha = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seeds" => o with { Seeds = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() },
                "--threads" => o with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--sessions" => o with { Sessions = int.Parse(Next(), CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
        }
        return o;
    }
}

/// <summary>ResNet-18 features of every train image (and its mirror image) and every val image, computed once with
/// the ONNX teacher and kept in one file next to the data.</summary>
internal sealed record FeatureCache(Tensor Train, Tensor TrainFlipped, Tensor Val)
{
    public static FeatureCache LoadOrCompute(DemoOptions o, PhotoFolder train, PhotoFolder val)
    {
        if (File.Exists(o.Cache))
        {
            using var all = Tensor.load(o.Cache);
            if (all.shape[0] == (2 * train.Count) + val.Count)
            {
                return new FeatureCache(all[..train.Count].clone(), all[train.Count..(2 * train.Count)].clone(), all[(2 * train.Count)..].clone());
            }
        }
        var modelPath = Path.Combine(o.ModelDir, "ResNet18Onnx", "ResNet18.onnx");
        var prePath = Path.Combine(o.ModelDir, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        using var teacher = OnnxTeacher.Open(modelPath, OnnxTeacherOptions.MlNetResNet(prePath) with
        {
            FeatureOutput = "Pooling395_Output_0",
            ParallelSessions = o.Sessions,
            IntraOpThreads = Math.Max(1, o.Threads / o.Sessions),
        });
        Console.WriteLine(teacher);
        var sw = Stopwatch.StartNew();
        var trainFeat = Compute(teacher, train, flip: false);
        var trainFlip = Compute(teacher, train, flip: true);
        var valFeat = Compute(teacher, val, flip: false);
        var n = (2 * train.Count) + val.Count;
        Console.WriteLine($"teacher: {n} images in {sw.Elapsed.TotalSeconds:F0} s ({sw.Elapsed.TotalMilliseconds / n:F0} ms/image)");
        using (var all = cat([trainFeat, trainFlip, valFeat]))
        {
            all.save(o.Cache);
        }
        return new FeatureCache(trainFeat, trainFlip, valFeat);
    }

    private static Tensor Compute(OnnxTeacher teacher, PhotoFolder set, bool flip)
    {
        var parts = new List<Tensor>();
        for (var start = 0; start < set.Count; start += 32)
        {
            using var scope = NewDisposeScope();
            var idx = arange(start, Math.Min(start + 32, set.Count), dtype: ScalarType.Int64);
            var x = set.Normalised(idx, 224);
            if (flip)
            {
                x = x.flip(3);
            }
            parts.Add(teacher.Forward(x).Features.MoveToOuterDisposeScope());
            Console.Write('.');
        }
        Console.WriteLine();
        return cat(parts);
    }
}
