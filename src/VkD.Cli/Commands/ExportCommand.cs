using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Interop.Checkpoints;
using VkD.Interop.Onnx;
using VkD.Models;
using VkD.Training.Checkpoints;
using VkD.Training.Sessions;

namespace VkD.Cli.Commands;

/// <summary>Options of <c>vkd export</c>.</summary>
public sealed class ExportSettings : CommandSettings
{
    /// <summary>Zoo model name.</summary>
    [CommandOption("-m|--model <NAME>")]
    [Description("Zoo model name (e.g. deit_ti_distilled, resnet18, regnety_160, resnet8x4); default: the one the checkpoint records.")]
    public string Model { get; init; } = "";

    /// <summary>Checkpoint with the trained weights.</summary>
    [CommandOption("-c|--checkpoint <FILE>")]
    [Description("Trained weights (.pt/.pth/.safetensors, PyTorch or VkD.NET checkpoint). Omit only with --random-weights.")]
    public string? Checkpoint { get; init; }

    /// <summary>Output ONNX file.</summary>
    [CommandOption("-o|--output <FILE>")]
    [Description("Output .onnx file.")]
    public string Output { get; init; } = "";

    /// <summary>ONNX opset.</summary>
    [CommandOption("--opset <N>")]
    [Description("ONNX opset, 17 to 21 (default 17; 20+ writes GELU as the Gelu operator).")]
    [DefaultValue(17)]
    public int Opset { get; init; } = 17;

    /// <summary>Input resolution.</summary>
    [CommandOption("--img-size <N>")]
    [Description("Input size in pixels (default: the size the checkpoint was trained at, else the model's own, e.g. 224 or 32).")]
    public int? ImgSize { get; init; }

    /// <summary>Classes of the head; inferred from the checkpoint when omitted.</summary>
    [CommandOption("--num-classes <N>")]
    [Description("Classes of the head (default: read from the checkpoint's head weight, else 1000).")]
    public int? NumClasses { get; init; }

    /// <summary>Checkpoint entry holding the weights.</summary>
    [CommandOption("--checkpoint-entry <NAME>")]
    [Description("Entry of the checkpoint that holds the weights, e.g. student_ema (default: model/state_dict/student).")]
    public string? CheckpointEntry { get; init; }

    /// <summary>Fix the batch size instead of a symbolic one.</summary>
    [CommandOption("--batch-size <N>")]
    [Description("Fix the batch dimension at N (default: dynamic batch).")]
    public int? BatchSize { get; init; }

    /// <summary>Export random weights (for benchmarks and smoke tests).</summary>
    [CommandOption("--random-weights")]
    [Description("Export the freshly initialised model (no checkpoint): for benchmarks and smoke tests.")]
    public bool RandomWeights { get; init; }

    /// <summary>Skip the ONNX Runtime vs TorchSharp check after writing.</summary>
    [CommandOption("--no-verify")]
    [Description("Skip running the exported file against TorchSharp on a random batch.")]
    public bool NoVerify { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Model) && Checkpoint is null)
        {
            return ValidationResult.Error("--model is required with --random-weights.");
        }
        if (!string.IsNullOrWhiteSpace(Model) && !ModelRegistry.Contains(Model))
        {
            return ValidationResult.Error($"Unknown model '{Model}'. Known models: {string.Join(", ", ModelRegistry.Names)}.");
        }
        if (string.IsNullOrWhiteSpace(Output))
        {
            return ValidationResult.Error("--output is required.");
        }
        if (Checkpoint is null && !RandomWeights)
        {
            return ValidationResult.Error("--checkpoint is required (or --random-weights to export an untrained model).");
        }
        if (Checkpoint is not null && !File.Exists(Checkpoint))
        {
            return ValidationResult.Error($"Checkpoint '{Checkpoint}' does not exist.");
        }
        if (Opset is < OnnxGraphBuilder.MinOpset or > OnnxGraphBuilder.MaxOpset)
        {
            return ValidationResult.Error($"--opset must be {OnnxGraphBuilder.MinOpset}..{OnnxGraphBuilder.MaxOpset}; got {Opset}.");
        }
        return ValidationResult.Success();
    }
}

/// <summary><c>vkd export</c>: writes a zoo classifier with trained weights as an ONNX graph (outputs <c>logits</c> and
/// <c>features</c>) and checks it against TorchSharp with ONNX Runtime.</summary>
public sealed class ExportCommand : Command<ExportSettings>
{
    private static readonly string[] HeadKeys = ["head.weight", "fc.weight", "head.fc.weight"];

    // What the checkpoint recorded about the model's inputs and outputs travels with the ONNX file, as JSON arrays.
    private static Dictionary<string, string> ExportMetadata(string modelName, CheckpointFacts? facts)
    {
        var metadata = new Dictionary<string, string> { ["vkd.model"] = modelName };
        if (facts?.Mean is { } mean && facts.Std is { } std)
        {
            metadata["vkd.mean"] = System.Text.Json.JsonSerializer.Serialize(mean);
            metadata["vkd.std"] = System.Text.Json.JsonSerializer.Serialize(std);
        }
        if (facts?.ClassNames is { } names)
        {
            metadata["vkd.class_names"] = System.Text.Json.JsonSerializer.Serialize(names);
        }
        return metadata;
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellationToken)
    {
        // A VkD.NET checkpoint (or model.pth's model.json) records the model, input size and channels it was trained with.
        var facts = settings.Checkpoint is null ? null : CheckpointFacts.Read(settings.Checkpoint);
        var modelName = !string.IsNullOrWhiteSpace(settings.Model) ? settings.Model : facts?.Model
            ?? throw new ArgumentException($"'{settings.Checkpoint}' does not record its model; pass --model.");
        TrainingSession.RequireModel(modelName, "--model");
        var info = ModelRegistry.Info(modelName);
        var size = settings.ImgSize ?? facts?.InputSize ?? info.DefaultImgSize;
        var channels = facts?.InChannels ?? 3;
        var stateOptions = new StateDictOptions { Entry = settings.CheckpointEntry, ExcludePrefixes = TrainingCheckpoint.DistillerPrefixes };
        Dictionary<string, TorchSharp.torch.Tensor>? state = null;
        try
        {
            var numClasses = settings.NumClasses;
            if (settings.Checkpoint is not null)
            {
                state = CheckpointReader.ReadStateDict(settings.Checkpoint, stateOptions);
                numClasses ??= HeadKeys.Where(state.ContainsKey).Select(k => (int?)state[k].shape[0]).FirstOrDefault();
            }
            using var model = ModelRegistry.Create(modelName, new ModelOptions(NumClasses: numClasses ?? facts?.NumClasses ?? 1000, ImgSize: size, InChans: channels));
            if (state is not null)
            {
                CheckpointLoader.LoadStateDict(model, state, strict: true, source: settings.Checkpoint!);
            }
            var options = new OnnxExportOptions
            {
                Opset = settings.Opset,
                InputSize = size,
                InChannels = channels,
                DynamicBatch = settings.BatchSize is null,
                BatchSize = settings.BatchSize ?? 1,
                Metadata = ExportMetadata(modelName, facts),
            };
            OnnxExporter.Export(model, settings.Output, options);
            AnsiConsole.MarkupLineInterpolated(
                $"[green]Wrote[/] {settings.Output} ({new FileInfo(settings.Output).Length / 1e6:F1} MB): {modelName}, {channels}x{size}x{size}, opset {settings.Opset}, outputs logits [[B,{model.NumClasses}]] and features [[B,{model.NumFeatures}]]");
            if (!settings.NoVerify)
            {
                var (logits, features) = OnnxExporter.Verify(model, settings.Output, options);
                var ok = logits < 1e-4 && features < 1e-4;
                AnsiConsole.MarkupLineInterpolated(
                    $"ONNX Runtime vs TorchSharp on a random batch: max |diff| logits {logits:E2}, features {features:E2} [{(ok ? "green" : "red")}]{(ok ? "OK" : "MISMATCH")}[/]");
                return ok ? 0 : 1;
            }
            return 0;
        }
        finally
        {
            if (state is not null)
            {
                foreach (var t in state.Values)
                {
                    t.Dispose();
                }
            }
        }
    }
}
