using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using VkD.Cli.Infrastructure;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Detection.Inference;
using VkD.Detection.Models;

namespace VkD.Cli.Commands;

/// <summary><c>vkd detect predict</c>: runs a ViDT checkpoint on images and writes each with its boxes, labels and
/// scores drawn (PNG).</summary>
public sealed class DetectVidtPredictCommand : Command<DetectVidtPredictCommand.Settings>
{
    /// <summary>Options of <c>vkd detect predict</c>.</summary>
    public sealed class Settings : DetectVidtModelSettings
    {
        /// <summary>The images.</summary>
        [CommandArgument(0, "<IMAGES>"), Description("Image files (JPEG, PNG, ...).")]
        public string[] Images { get; init; } = [];

        /// <summary>--out.</summary>
        [CommandOption("--out|--output_dir <DIR>"), Description("Folder for the drawn images (<name>.png).")]
        public string? Out { get; init; }

        /// <summary>--threshold.</summary>
        [CommandOption("--threshold <SCORE>"), Description("Smallest score drawn (default 0.3).")]
        public double? Threshold { get; init; }

        /// <summary>--coco-gt.</summary>
        [CommandOption("--coco-gt <PATH>"), Description("Take the label names from this COCO JSON's categories (default: COCO's names for 91 classes, else 'class N').")]
        public string? GroundTruth { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            var common = base.Validate();
            if (!common.Successful)
            {
                return common;
            }
            if (Resume is null)
            {
                return ValidationResult.Error("Pass the ViDT checkpoint with --resume <checkpoint>.");
            }
            if (Images.Length == 0)
            {
                return ValidationResult.Error("Pass one or more images to draw detections on.");
            }
            if (string.IsNullOrWhiteSpace(Out))
            {
                return ValidationResult.Error("Pass the output folder with --out <dir>.");
            }
            if (Threshold is { } t && (double.IsNaN(t) || t is < 0 or > 1))
            {
                return ValidationResult.Error($"--threshold must be in [0, 1], got {t}.");
            }
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var s = settings;
        if (!File.Exists(s.Resume))
        {
            throw new FileNotFoundException($"Checkpoint (--resume) not found: {s.Resume}", s.Resume);
        }
        foreach (var image in s.Images)
        {
            if (!File.Exists(image))
            {
                throw new FileNotFoundException($"Image not found: {image}", image);
            }
        }
        if (s.GroundTruth is not null && !File.Exists(s.GroundTruth))
        {
            throw new FileNotFoundException($"--coco-gt not found: {s.GroundTruth}", s.GroundTruth);
        }
        s.ApplyThreads();
        var (model, report) = VidtCheckpoint.LoadModel(s.Resume!, s.ResolveConfig(s.Resume!), s.NHeads ?? 8, s.DecNPoints ?? 4);
        using var _ = model;
        model.to(VkD.Training.Tasks.TrainingDevice.Resolve(s.Device));
        CliConsole.Line($"model: {DetectVidtEvalCommand.Describe(model.Config)}; checkpoint {report.Describe()}");
        var names = s.GroundTruth is null ? null : CocoDataset.Load(s.GroundTruth).Categories.ToDictionary(c => c.Id, c => c.Name);
        string NameOf(long id) => names?.GetValueOrDefault(id)
            ?? (model.Config.NumClasses == CocoCategoryNames.Count ? CocoCategoryNames.Get(id) : null)
            ?? string.Create(CultureInfo.InvariantCulture, $"class {id}");
        var predictor = new VidtPredictor(model, s.EvalSize ?? 800);
        var threshold = s.Threshold ?? 0.3;
        Directory.CreateDirectory(s.Out!);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in s.Images)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var image = DetectionImage.Load(path);
            var detections = predictor.Predict(image, threshold);
            var outPath = OutputPath(s.Out!, path, used);
            DetectionDrawing.Draw(image, detections, NameOf).SavePng(outPath);
            CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
                $"{path}: {detections.Count} detection{(detections.Count == 1 ? "" : "s")} with score >= {threshold:0.##} -> {outPath}"));
            foreach (var d in detections)
            {
                CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
                    $"  {NameOf(d.CategoryId)} {d.Score:0.000} [{d.Bbox.X:0.0}, {d.Bbox.Y:0.0}, {d.Bbox.Width:0.0}, {d.Bbox.Height:0.0}]"));
            }
        }
        return 0;
    }

    // <stem>.png, with -2, -3, ... when two inputs share a name.
    private static string OutputPath(string folder, string input, HashSet<string> used)
    {
        var stem = Path.GetFileNameWithoutExtension(input);
        var name = stem + ".png";
        for (var i = 2; !used.Add(name); i++)
        {
            name = string.Create(CultureInfo.InvariantCulture, $"{stem}-{i}.png");
        }
        return Path.Combine(folder, name);
    }
}
