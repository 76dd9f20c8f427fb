using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Detection.Synthesis;

namespace VkD.Cli.Commands;

/// <summary><c>vkd data make-detection</c>: composes real objects onto canvases and writes a COCO detection set.</summary>
public sealed class DataMakeDetectionCommand : Command<DataMakeDetectionCommand.Settings>
{
    /// <summary>Options of <c>vkd data make-detection</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Object source kind.</summary>
        [CommandOption("--source <KIND>")]
        [Description("idx (MNIST/Fashion-MNIST IDX files), digits-png (OpenCV digits.png) or stamps (folder of PNG cut-outs in class folders, e.g. /usr/share/tuxpaint/stamps).")]
        public string Source { get; init; } = "idx";

        /// <summary>IDX images file.</summary>
        [CommandOption("--images <PATH>")]
        [Description("IDX images file (.gz or raw), for --source idx.")]
        public string? Images { get; init; }

        /// <summary>IDX labels file.</summary>
        [CommandOption("--labels <PATH>")]
        [Description("IDX labels file (.gz or raw), for --source idx.")]
        public string? Labels { get; init; }

        /// <summary>digits.png or the stamps folder.</summary>
        [CommandOption("--input <PATH>")]
        [Description("digits.png (--source digits-png) or the stamp folder (--source stamps).")]
        public string? Input { get; init; }

        /// <summary>Class names for IDX labels.</summary>
        [CommandOption("--class-names <NAMES>")]
        [Description("For --source idx: 'fashion-mnist', or a text file with one name per line (default: the label numbers).")]
        public string? ClassNames { get; init; }

        /// <summary>Output folder.</summary>
        [CommandOption("--out <DIR>")]
        [Description("Output folder: images/ and annotations.json are written there.")]
        public string Output { get; init; } = "";

        /// <summary>Number of images.</summary>
        [CommandOption("--count <N>")]
        [Description("Number of images.")]
        [DefaultValue(1000)]
        public int Count { get; init; } = 1000;

        /// <summary>Canvas width.</summary>
        [CommandOption("--width <PX>")]
        [Description("Canvas width.")]
        [DefaultValue(128)]
        public int Width { get; init; } = 128;

        /// <summary>Canvas height.</summary>
        [CommandOption("--height <PX>")]
        [Description("Canvas height.")]
        [DefaultValue(128)]
        public int Height { get; init; } = 128;

        /// <summary>Fewest objects per image.</summary>
        [CommandOption("--min-objects <N>")]
        [Description("Fewest objects per image.")]
        [DefaultValue(1)]
        public int MinObjects { get; init; } = 1;

        /// <summary>Most objects per image.</summary>
        [CommandOption("--max-objects <N>")]
        [Description("Most objects per image (fewer if no free place is found).")]
        [DefaultValue(6)]
        public int MaxObjects { get; init; } = 6;

        /// <summary>Smallest object side.</summary>
        [CommandOption("--min-size <PX>")]
        [Description("Smallest longer side of a pasted object.")]
        [DefaultValue(16)]
        public int MinSize { get; init; } = 16;

        /// <summary>Largest object side.</summary>
        [CommandOption("--max-size <PX>")]
        [Description("Largest longer side of a pasted object.")]
        [DefaultValue(64)]
        public int MaxSize { get; init; } = 64;

        /// <summary>Largest box IoU between objects.</summary>
        [CommandOption("--max-overlap <IOU>")]
        [Description("Largest box IoU between two objects of an image.")]
        [DefaultValue(0.1)]
        public double MaxOverlap { get; init; } = 0.1;

        /// <summary>Seed.</summary>
        [CommandOption("--seed <N>")]
        [Description("Seed; the same seed gives byte-identical output.")]
        [DefaultValue(0L)]
        public long Seed { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Output))
            {
                return ValidationResult.Error("--out is required.");
            }
            return Source switch
            {
                "idx" when Images is null || Labels is null => ValidationResult.Error("--source idx needs --images and --labels."),
                "digits-png" or "stamps" when Input is null => ValidationResult.Error($"--source {Source} needs --input."),
                "idx" or "digits-png" or "stamps" => ValidationResult.Success(),
                _ => ValidationResult.Error($"Unknown --source '{Source}' (idx, digits-png, stamps)."),
            };
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        Run(settings, Console.Out);

    /// <summary>Generates the set and reports to <paramref name="output"/>; returns the exit code.</summary>
    public static int Run(Settings settings, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var clock = Stopwatch.StartNew();
        IObjectSource source = settings.Source switch
        {
            "idx" => new IdxGlyphSource(settings.Images!, settings.Labels!, ClassNames(settings.ClassNames)),
            "digits-png" => new DigitsPngGlyphSource(settings.Input!),
            "stamps" => new StampSource(settings.Input!),
            _ => throw new ArgumentException($"Unknown --source '{settings.Source}'."),
        };
        var options = new DetectionSceneOptions
        {
            ImageCount = settings.Count,
            Width = settings.Width,
            Height = settings.Height,
            MinObjects = settings.MinObjects,
            MaxObjects = settings.MaxObjects,
            MinObjectSize = settings.MinSize,
            MaxObjectSize = settings.MaxSize,
            MaxOverlap = settings.MaxOverlap,
            Seed = settings.Seed,
        };
        var dataset = DetectionSceneGenerator.Generate(source, options, settings.Output);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{dataset.Images.Count} images, {dataset.Annotations.Count} objects, {dataset.Categories.Count} categories from {source.Count} source objects -> {Path.Combine(settings.Output, "annotations.json")} ({clock.Elapsed.TotalSeconds:0.0}s)"));
        return 0;
    }

    private static IReadOnlyList<string>? ClassNames(string? option) => option switch
    {
        null => null,
        "fashion-mnist" => IdxGlyphSource.FashionMnistClasses,
        _ => File.ReadAllLines(option).Where(l => l.Trim().Length > 0).Select(l => l.Trim()).ToArray(),
    };
}
