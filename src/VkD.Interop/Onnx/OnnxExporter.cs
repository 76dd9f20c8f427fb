using TorchSharp;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Interop.Onnx;

/// <summary>
/// Exports zoo models to ONNX. TorchSharp cannot trace C# modules, so the exporter walks the module tree: an
/// architecture exporter per model family composes the graph and per-layer emitters write the layers (eval mode: batch
/// norm uses running statistics, dropout and drop-path vanish).
/// </summary>
public static class OnnxExporter
{
    private static readonly List<IOnnxArchitectureExporter> Architectures = [.. OnnxArchitectures.BuiltIn()];

    /// <summary>Model families the exporter knows, tried in order (newest registration first).</summary>
    public static IReadOnlyList<IOnnxArchitectureExporter> KnownArchitectures => Architectures;

    /// <summary>Adds an exporter for a model family defined outside VkD.Models.</summary>
    public static void Register(IOnnxArchitectureExporter exporter) => Architectures.Insert(0, exporter);

    /// <summary>Exports a zoo classifier with two outputs: <c>logits</c> [B, num_classes] (eval forward; absent when
    /// the model has no classifier) and <c>features</c> [B, num_features] (the pooled features of
    /// <see cref="ClassifierModel.ForwardForDistillation"/>), so <see cref="OnnxTeacher"/> opens it with default options.</summary>
    /// <exception cref="NotSupportedException">The model's family (or one of its layers) has no exporter, or its
    /// BatchNorms were folded (the exporters emit every BatchNorm, which a folded conv already contains).</exception>
    public static void Export(ClassifierModel model, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (VkD.Models.Layers.BatchNormFolding.IsFolded(model))
        {
            throw new NotSupportedException("ONNX export: this model's BatchNorms were folded into its convolutions (a frozen teacher); export the unfolded model.");
        }
        options ??= new OnnxExportOptions();
        var arch = Architectures.FirstOrDefault(a => a.CanExport(model))
            ?? throw new NotSupportedException($"ONNX export: no exporter for model type {model.GetType().FullName}. "
                + $"Known families: {string.Join(", ", Architectures.Select(a => a.GetType().Name))}.");
        var g = new OnnxGraphBuilder(model.GetName(), options.Opset);
        var input = AddImageInput(g, options);
        var ctx = new OnnxExportContext(g);
        var outputs = WithEval(model, () => arch.Emit(ctx, model, input, options));
        long?[] batch = [options.DynamicBatch ? null : options.BatchSize];
        if (outputs.Logits is not null)
        {
            var logits = g.Node("Identity", "logits", [outputs.Logits]);
            g.AddOutput(logits, [.. batch, model.NumClasses], ["batch", ""]);
        }
        var features = g.Node("Identity", "features", [outputs.Features]);
        g.AddOutput(features, [.. batch, model.NumFeatures], ["batch", ""]);
        var metadata = new Dictionary<string, string>(options.Metadata)
        {
            ["vkd.input_size"] = options.InputSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["vkd.in_chans"] = options.InChannels.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["vkd.num_classes"] = model.NumClasses.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        // The caller knows the zoo name; the module's class name is the fallback.
        metadata.TryAdd("vkd.model", model.GetName());
        g.Save(path, metadata: metadata);
    }

    /// <summary>Exports any module the emitters know (a Sequential of TorchSharp layers, say) with one output
    /// named <c>output</c>.</summary>
    /// <param name="module">The module; it is put in eval mode for the export and restored afterwards.</param>
    /// <param name="path">Output .onnx file.</param>
    /// <param name="options">Opset, input size and batch.</param>
    /// <param name="emitters">Extra emitters for module types the built-in layers do not cover.</param>
    public static void ExportModule(nn.Module module, string path, OnnxExportOptions? options = null, params OnnxModuleEmitter[] emitters)
    {
        options ??= new OnnxExportOptions();
        var g = new OnnxGraphBuilder(module.GetName(), options.Opset);
        var input = AddImageInput(g, options);
        var ctx = new OnnxExportContext(g);
        foreach (var e in emitters)
        {
            ctx.Register(e);
        }
        var result = WithEval(module, () => ctx.Emit(module, input, ""));
        var output = g.Node("Identity", "output", [result]);
        // Output rank is not known without shape inference; ONNX allows an output declared without a shape.
        g.AddOutputUnshaped(output);
        g.Save(path);
    }

    /// <summary>Runs the exported file with ONNX Runtime and the model with TorchSharp on the same random batch and
    /// returns the largest absolute difference of logits and of features (the check <c>vkd export</c> prints).</summary>
    /// <param name="model">The model that was exported.</param>
    /// <param name="path">The exported .onnx file.</param>
    /// <param name="options">The options it was exported with.</param>
    /// <param name="batch">Random images to compare on (ignored when the export fixed the batch size).</param>
    public static (double Logits, double Features) Verify(ClassifierModel model, string path, OnnxExportOptions? options = null, int batch = 2)
    {
        options ??= new OnnxExportOptions();
        var b = options.DynamicBatch ? batch : options.BatchSize;
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(b, options.InChannels, options.InputSize, options.InputSize);
        var outputs = WithEval(model, () =>
        {
            var o = model.ForwardForDistillation(x);
            return (Logits: model.NumClasses > 0 ? model.forward(x) : null, o.PooledFeatures);
        });
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        var data = x.data<float>().ToArray();
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(data, x.shape);
        var names = session.OutputMetadata.Keys.ToArray();
        using var results = session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), [options.InputName], [input], names);
        double Diff(string name, Tensor? expected)
        {
            var i = Array.IndexOf(names, name);
            if (i < 0 || expected is null)
            {
                return 0;
            }
            var actual = torch.tensor(results[i].GetTensorDataAsSpan<float>().ToArray(), results[i].GetTensorTypeAndShape().Shape);
            return (actual - expected).abs().max().item<float>();
        }
        return (Diff("logits", outputs.Logits), Diff("features", outputs.PooledFeatures));
    }

    private static string AddImageInput(OnnxGraphBuilder g, OnnxExportOptions options) =>
        g.AddInput(options.InputName,
            [options.DynamicBatch ? null : options.BatchSize, options.InChannels, options.InputSize, options.InputSize],
            ["batch", "", "", ""]);

    private static T WithEval<T>(nn.Module module, Func<T> export)
    {
        var wasTraining = module.training;
        module.eval();
        try
        {
            using var noGrad = torch.no_grad();
            return export();
        }
        finally
        {
            module.train(wasTraining);
        }
    }
}
