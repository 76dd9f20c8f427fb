using System.Globalization;
using VkD.Distillation.Teachers;
using VkD.Interop.Checkpoints;
using VkD.Interop.Onnx;
using VkD.Models;
using VkD.Training.Teachers;

namespace VkD.Cli.Commands;

/// <summary>
/// Plugs the ONNX teachers into <c>vkd distill</c>'s <c>--teacher</c> through <see cref="TeacherFactory"/> (the train
/// part's extension point), so the distill flags stay untouched:
/// <list type="bullet">
/// <item><c>--teacher onnx:PATH[?key=value&amp;...]</c>: any ONNX model through ONNX Runtime. Keys: <c>features</c>,
/// <c>logits</c>, <c>input</c> (names), <c>size</c>, <c>pool</c> (avg|max|first), <c>batch-mean</c>/<c>batch-std</c>
/// (how the data is normalised, default ImageNet), <c>mean</c>/<c>std</c>/<c>pixel-scale</c>/<c>bgr</c> (what the model
/// expects), <c>preprocess</c> (an ONNX model run first), <c>threads</c>, <c>sessions</c>, <c>arena</c>, <c>mem-pattern</c>,
/// <c>prepack</c> (ONNX Runtime's memory settings, on or off).</item>
/// <item><c>--teacher ort:MODEL --teacher-path CKPT</c>: a zoo teacher with its weights, exported and run by ONNX
/// Runtime instead of TorchSharp (see docs/benchmarks.md for when that is faster).</item>
/// </list>
/// </summary>
public static class OnnxTeacherWiring
{
    /// <summary>Registers the <c>onnx:</c> and <c>ort:</c> teacher kinds (idempotent).</summary>
    public static void Register()
    {
        TeacherFactory.Register("onnx", r => OpenOnnx(r.Spec));
        TeacherFactory.Register("ort", OpenZooThroughOnnxRuntime);
    }

    /// <summary>Opens <c>PATH[?key=value&amp;...]</c> as an <see cref="OnnxTeacher"/>.</summary>
    public static OnnxTeacher OpenOnnx(string spec)
    {
        var (path, options) = ParseSpec(spec);
        return OnnxTeacher.Open(path, options);
    }

    /// <summary>Known ONNX teachers by one word (<c>?preset=NAME</c>), so their input conventions need not be typed.</summary>
    public static IReadOnlyList<string> Presets { get; } = ["mlnet-resnet18"];

    /// <summary>Splits <c>PATH[?key=value&amp;...]</c> into the model path and its options; <c>preset=NAME</c> sets a
    /// known model's options first and later keys override them.</summary>
    /// <exception cref="ArgumentException">An unknown key, preset or value, naming it.</exception>
    public static (string Path, OnnxTeacherOptions Options) ParseSpec(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var q = spec.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? spec : spec[..q];
        var options = new OnnxTeacherOptions();
        if (q >= 0)
        {
            foreach (var pair in spec[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var key = eq < 0 ? pair : pair[..eq];
                var value = eq < 0 ? "true" : pair[(eq + 1)..];
                options = key switch
                {
                    "preset" => Preset(value, path, spec),
                    "features" => options with { FeatureOutput = value },
                    "logits" => options with { LogitsOutput = value },
                    "input" => options with { InputName = value },
                    "size" => options with { InputSize = Int(value, key) },
                    "pool" => options with { FeaturePooling = Pool(value) },
                    "batch-mean" => options with { BatchMean = Floats(value, key) },
                    "batch-std" => options with { BatchStd = Floats(value, key) },
                    "mean" => options with { ModelMean = Floats(value, key) },
                    "std" => options with { ModelStd = Floats(value, key) },
                    "pixel-scale" => options with { PixelScale = Floats(value, key)[0] },
                    "bgr" => options with { Bgr = bool.Parse(value) },
                    "preprocess" => options with { PreprocessorPath = value },
                    "threads" => options with { IntraOpThreads = Int(value, key) },
                    "sessions" => options with { ParallelSessions = Int(value, key) },
                    "arena" => options with { MemoryArena = Bool(value, key) },
                    "mem-pattern" => options with { MemoryPattern = Bool(value, key) },
                    "prepack" => options with { Prepacking = Bool(value, key) },
                    _ => throw new ArgumentException($"Unknown ONNX teacher option '{key}' in --teacher onnx:{spec}; known: preset, features, "
                        + "logits, input, size, pool, batch-mean, batch-std, mean, std, pixel-scale, bgr, preprocess, threads, sessions, arena, mem-pattern, prepack."),
                };
            }
        }
        return (path, options);
    }

    // The ML.NET DnnImageFeaturizer ResNet-18 (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18): 0-255 RGB through the
    // package's ResNetPreprocess.onnx, which sits in ../ResNetPrepOnnx/ beside the model's folder, 224 px, the 512-d
    // pooled output as features. Without these five settings it silently drops to ~51 % (issue 18.12).
    private static OnnxTeacherOptions Preset(string name, string modelPath, string spec) => name switch
    {
        "mlnet-resnet18" => OnnxTeacherOptions.MlNetResNet(Path.Combine(
                Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(modelPath))) ?? ".", "ResNetPrepOnnx", "ResNetPreprocess.onnx")) with
        {
            FeatureOutput = "Pooling395_Output_0",
        },
        _ => throw new ArgumentException($"Unknown ONNX teacher preset '{name}' in --teacher onnx:{spec}; known: {string.Join(", ", Presets)}."),
    };

    private static ITeacher OpenZooThroughOnnxRuntime(TeacherRequest r)
    {
        if (!ModelRegistry.Contains(r.Spec))
        {
            throw new ArgumentException($"--teacher ort:{r.Spec}: unknown zoo model. Known models: {string.Join(", ", ModelRegistry.Names)}.");
        }
        var model = ModelRegistry.Create(r.Spec, new ModelOptions(r.NumClasses, r.InputSize, 0, r.InChannels));
        try
        {
            CheckpointLoader.Load(model, r.WeightsPath, new StateDictOptions { ExcludePrefixes = VkD.Training.Checkpoints.TrainingCheckpoint.DistillerPrefixes }, strict: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return OnnxTeacher.FromModel(model, r.InputSize, inChannels: r.InChannels, disposeModel: true);
    }

    private static bool Bool(string value, string key) => value.ToLowerInvariant() switch
    {
        "1" or "true" or "on" or "yes" => true,
        "0" or "false" or "off" or "no" => false,
        _ => throw new ArgumentException($"ONNX teacher option '{key}' is on or off (1/0, true/false); got '{value}'."),
    };

    private static int Int(string value, string key) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new ArgumentException($"ONNX teacher option '{key}' needs an integer; got '{value}'.");

    private static float[] Floats(string value, string key) =>
        value.Split(',').Select(v => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f
            : throw new ArgumentException($"ONNX teacher option '{key}' needs numbers (comma separated); got '{value}'.")).ToArray();

    private static OnnxFeaturePooling Pool(string value) => value.ToLowerInvariant() switch
    {
        "avg" or "average" or "mean" => OnnxFeaturePooling.Average,
        "max" => OnnxFeaturePooling.Max,
        "first" or "cls" => OnnxFeaturePooling.FirstToken,
        _ => throw new ArgumentException($"ONNX teacher option 'pool' is avg, max or first; got '{value}'."),
    };
}
