using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Detection.Evaluation;

namespace VkD.Cli.Commands;

/// <summary><c>vkd detect eval</c>: COCO bbox evaluation of a results file, printed exactly like pycocotools'
/// <c>COCOeval.summarize()</c>.</summary>
public sealed class DetectEvalCommand : Command<DetectEvalCommand.Settings>
{
    /// <summary>Options of <c>vkd detect eval</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>COCO instances JSON with the ground truth.</summary>
        [CommandOption("--coco-gt <PATH>")]
        [Description("COCO instances JSON with the ground truth (images, annotations, categories).")]
        public string GroundTruth { get; init; } = "";

        /// <summary>COCO results JSON with the detections.</summary>
        [CommandOption("--results <PATH>")]
        [Description("COCO results JSON: a list of {image_id, category_id, bbox [[x,y,w,h]], score}.")]
        public string Results { get; init; } = "";

        /// <summary>Optional path for the 12 numbers as JSON.</summary>
        [CommandOption("--stats-json <PATH>")]
        [Description("Also write the 12 numbers as JSON {name: value}.")]
        public string? StatsJson { get; init; }

        /// <summary>Also print AP@[.5:.95] per category.</summary>
        [CommandOption("--per-category")]
        [Description("Also print AP@[[.5:.95]] of every category (-1: no ground truth).")]
        public bool PerCategory { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(GroundTruth))
            {
                return ValidationResult.Error("--coco-gt is required.");
            }
            if (string.IsNullOrWhiteSpace(Results))
            {
                return ValidationResult.Error("--results is required.");
            }
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        Run(settings, Console.Out, Console.Error);

    /// <summary>Runs the evaluation: the 12 summary lines go to <paramref name="output"/>, timing to
    /// <paramref name="log"/>. Returns the exit code.</summary>
    /// <exception cref="FileNotFoundException">An input file does not exist.</exception>
    public static int Run(Settings settings, TextWriter output, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        foreach (var path in new[] { settings.GroundTruth, settings.Results })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"File not found: {path}", path);
            }
        }
        var clock = Stopwatch.StartNew();
        var gt = CocoDataset.Load(settings.GroundTruth);
        var results = CocoResultsFile.Load(settings.Results);
        var loaded = clock.Elapsed.TotalSeconds;
        var result = CocoEvaluator.Evaluate(gt, results);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{gt.Images.Count} images, {gt.Annotations.Count} annotations, {results.Count} detections: loaded in {loaded:0.00}s, evaluated in {clock.Elapsed.TotalSeconds - loaded:0.00}s"));
        output.Write(result.FormatSummary());
        if (settings.PerCategory)
        {
            foreach (var category in gt.Categories.OrderBy(c => c.Id))
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{category.Id,5}  {NumpyCompat.FormatFixed(result.CategoryAp(category.Id), 3),6}  {category.Name}"));
            }
        }
        if (settings.StatsJson is { } statsPath)
        {
            var stats = result.Summary.ToDictionary(s => s.Name, s => s.Value);
            File.WriteAllText(statsPath, JsonSerializer.Serialize(stats, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }
}
