using System.Buffers.Binary;
using System.IO.Compression;
using VkD.Cli.Commands;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Detection.Synthesis;

namespace VkD.Tests.Detection;

public sealed class DetectionGeneratorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"vkd-detgen-{Guid.NewGuid():N}");

    public DetectionGeneratorTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes N 12x12 glyphs (an opaque 4-wide, 8-high bar at a label-dependent column) as IDX files.</summary>
    private (string Images, string Labels) WriteIdx(int n, bool gzip)
    {
        var images = new byte[16 + (n * 144)];
        BinaryPrimitives.WriteInt32BigEndian(images, 0x0803);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), n);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 12);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), 12);
        var labels = new byte[8 + n];
        BinaryPrimitives.WriteInt32BigEndian(labels, 0x0801);
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), n);
        for (var i = 0; i < n; i++)
        {
            labels[8 + i] = (byte)(i % 3);
            for (var y = 2; y < 10; y++)
            {
                for (var x = 4; x < 8; x++)
                {
                    images[16 + (i * 144) + (y * 12) + x] = 255;
                }
            }
        }
        var imagesPath = Path.Combine(_dir, gzip ? "img.gz" : "img");
        var labelsPath = Path.Combine(_dir, gzip ? "lab.gz" : "lab");
        Write(imagesPath, images, gzip);
        Write(labelsPath, labels, gzip);
        return (imagesPath, labelsPath);
    }

    private static void Write(string path, byte[] data, bool gzip)
    {
        if (!gzip)
        {
            File.WriteAllBytes(path, data);
            return;
        }
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        gz.Write(data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_glyph_source_reads_raw_and_gzip_and_names_only_the_classes_present(bool gzip)
    {
        var (images, labels) = WriteIdx(5, gzip);
        var source = new IdxGlyphSource(images, labels);
        Assert.Equal(5, source.Count);
        Assert.Equal(["0", "1", "2"], source.ClassNames);
        var (cutout, cls) = source.Get(3);
        Assert.Equal(0, cls);
        Assert.Equal((12, 12), (cutout.Width, cutout.Height));
    }

    [Fact]
    public void Idx_glyph_source_rejects_other_files_by_name()
    {
        var (_, labels) = WriteIdx(5, false);
        var path = Path.Combine(_dir, "bad");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        var e = Assert.Throws<InvalidDataException>(() => new IdxGlyphSource(path, labels));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Boxes_are_the_tight_bounds_of_the_pasted_mask()
    {
        var (images, labels) = WriteIdx(9, gzip: false);
        var source = new IdxGlyphSource(images, labels);
        // Object side 24 = 2x the 12 px glyph: the 4x8 bar becomes (about) 8x16 inside a 24x24 paste.
        var options = new DetectionSceneOptions { Width = 96, Height = 96, MinObjectSize = 24, MaxObjectSize = 24, MinObjects = 3, MaxObjects = 3 };
        for (var i = 0; i < 5; i++)
        {
            var (canvas, objects) = DetectionSceneGenerator.Compose(source, options, i);
            Assert.Equal((96, 96), (canvas.Width, canvas.Height));
            Assert.NotEmpty(objects);
            foreach (var (box, area, cls) in objects)
            {
                Assert.InRange(box.Width, 7, 10);
                Assert.InRange(box.Height, 15, 18);
                Assert.InRange(area, 0.8 * box.Width * box.Height, box.Width * box.Height);
                Assert.InRange(box.X, 0, 96 - box.Width);
                Assert.InRange(cls, 0, 2);
            }
        }
    }

    [Fact]
    public void Generation_is_deterministic_and_evaluates_to_one_against_itself()
    {
        var (images, labels) = WriteIdx(12, gzip: true);
        var source = new IdxGlyphSource(images, labels, ["a", "b", "c"]);
        var options = new DetectionSceneOptions { ImageCount = 6, Width = 64, Height = 48, MinObjectSize = 12, MaxObjectSize = 30, MaxObjects = 4, Seed = 9 };
        var first = DetectionSceneGenerator.Generate(source, options, Path.Combine(_dir, "a"));
        DetectionSceneGenerator.Generate(source, options, Path.Combine(_dir, "b"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a", "annotations.json")), File.ReadAllBytes(Path.Combine(_dir, "b", "annotations.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a", "images", "000003.png")), File.ReadAllBytes(Path.Combine(_dir, "b", "images", "000003.png")));
        var other = DetectionSceneGenerator.Generate(source, options with { Seed = 10 }, Path.Combine(_dir, "c"));
        Assert.NotEqual(first.Annotations.Select(a => a.Bbox), other.Annotations.Select(a => a.Bbox));

        var gt = CocoDataset.Load(Path.Combine(_dir, "a", "annotations.json"));
        Assert.Equal([1L, 2L, 3L], gt.Categories.Select(c => c.Id));
        Assert.Equal(first.Annotations, gt.Annotations);
        Assert.True(gt.Annotations.Count >= 6);

        var dataset = new CocoDetectionDataset(gt, Path.Combine(_dir, "a"), VidtTransforms.Val(evalSize: 48));
        using var example = dataset.Get(0, seed: 0);
        Assert.Equal(new long[] { 3, 48, 64 }, example.Image.shape);

        var perfect = gt.Annotations.Select(a => new CocoDetection(a.ImageId, a.CategoryId, a.Bbox, 1.0)).ToList();
        Assert.Equal(1.0, CocoEvaluator.Evaluate(gt, perfect).Stats[0], 12);
    }

    [Fact]
    public void Make_detection_and_detect_eval_commands_run_end_to_end()
    {
        var (images, labels) = WriteIdx(6, gzip: false);
        var outDir = Path.Combine(_dir, "set");
        var make = new DataMakeDetectionCommand.Settings
        {
            Source = "idx",
            Images = images,
            Labels = labels,
            Output = outDir,
            Count = 4,
            Width = 64,
            Height = 64,
            MinSize = 12,
            MaxSize = 24,
            Seed = 3,
        };
        Assert.True(make.Validate().Successful);
        var log = new StringWriter();
        Assert.Equal(0, DataMakeDetectionCommand.Run(make, log));
        Assert.Contains("4 images", log.ToString());

        var gtPath = Path.Combine(outDir, "annotations.json");
        var gt = CocoDataset.Load(gtPath);
        var dtPath = Path.Combine(_dir, "dt.json");
        // The first object of every image is missed; the rest are found.
        var found = gt.Annotations.GroupBy(a => a.ImageId).SelectMany(g => g.Skip(1))
            .Select(a => new CocoDetection(a.ImageId, a.CategoryId, a.Bbox, 0.9)).ToList();
        CocoResultsFile.Save(dtPath, found);
        var expected = CocoEvaluator.Evaluate(gt, found).FormatSummary();

        var output = new StringWriter();
        var statsPath = Path.Combine(_dir, "stats.json");
        var eval = new DetectEvalCommand.Settings { GroundTruth = gtPath, Results = dtPath, StatsJson = statsPath };
        Assert.Equal(0, DetectEvalCommand.Run(eval, output, TextWriter.Null));
        Assert.Equal(expected, output.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(12, lines.Length);
        Assert.StartsWith(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.", lines[0]);
        Assert.Contains("\"AR100\"", File.ReadAllText(statsPath));

        var perCategory = new StringWriter();
        Assert.Equal(0, DetectEvalCommand.Run(new DetectEvalCommand.Settings { GroundTruth = gtPath, Results = dtPath, PerCategory = true }, perCategory, TextWriter.Null));
        var extra = perCategory.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(12).ToArray();
        Assert.Equal(gt.Categories.Count, extra.Length);
        Assert.Contains($"  {NumpyCompat.FormatFixed(CocoEvaluator.Evaluate(gt, found).CategoryAp(1), 3),6}  0", extra[0]);
    }

    [Fact]
    public void Detect_eval_names_a_missing_file()
    {
        var eval = new DetectEvalCommand.Settings { GroundTruth = Path.Combine(_dir, "nope.json"), Results = Path.Combine(_dir, "dt.json") };
        var e = Assert.Throws<FileNotFoundException>(() => DetectEvalCommand.Run(eval, TextWriter.Null, TextWriter.Null));
        Assert.Contains("nope.json", e.Message);
    }

    [Fact]
    public void Make_detection_validation_requires_the_source_files()
    {
        Assert.False(new DataMakeDetectionCommand.Settings { Source = "idx", Output = _dir }.Validate().Successful);
        Assert.False(new DataMakeDetectionCommand.Settings { Source = "stamps", Output = _dir }.Validate().Successful);
        Assert.False(new DataMakeDetectionCommand.Settings { Source = "nope", Output = _dir, Input = "x" }.Validate().Successful);
    }
}

public sealed class DetectionSourceTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"vkd-detsrc-{Guid.NewGuid():N}");

    public DetectionSourceTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void SavePng(string path, int width, int height, Func<int, int, (byte R, byte G, byte B, byte A)> pixel)
    {
        var rgba = new byte[width * height * 4];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var (r, g, b, a) = pixel(x, y);
                var p = ((y * width) + x) * 4;
                (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = (r, g, b, a);
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        new DetectionImage(width, height, rgba).SavePng(path);
    }

    [Fact]
    public void Digits_sheet_cells_map_to_classes_by_row_blocks()
    {
        // 3 columns x 20 rows of 20 px cells: class c fills rows 2c and 2c+1; cell brightness encodes the row.
        var path = Path.Combine(_dir, "digits.png");
        SavePng(path, 60, 400, (x, y) => ((byte)(y / 20 * 10), (byte)(y / 20 * 10), (byte)(y / 20 * 10), 255));
        var source = new DigitsPngGlyphSource(path);
        Assert.Equal(60, source.Count);
        var (cutout, cls) = source.Get(3 * 7); // row 7, column 0
        Assert.Equal(3, cls);
        Assert.Equal((20, 20), (cutout.Width, cutout.Height));
        Assert.Equal(70, cutout.Rgba[3]); // grey value becomes alpha
        Assert.Equal(9, source.Get(59).ClassIndex);
    }

    [Fact]
    public void Stamps_take_their_class_from_the_first_folder_and_keep_alpha()
    {
        SavePng(Path.Combine(_dir, "animals", "pets", "cat.png"), 40, 20, (x, y) => (200, 100, 50, (byte)(x < 10 ? 0 : 255)));
        SavePng(Path.Combine(_dir, "food", "apple.png"), 30, 30, (x, y) => (255, 0, 0, 255));
        File.WriteAllText(Path.Combine(_dir, "loose.png"), "not in a class folder");
        var source = new StampSource(_dir, maxSide: 20);
        Assert.Equal(["animals", "food"], source.ClassNames);
        Assert.Equal(2, source.Count);
        var (cat, cls) = source.Get(0);
        Assert.Equal(0, cls);
        Assert.Equal((20, 10), (cat.Width, cat.Height)); // shrunk to the max side
        Assert.Equal(0, cat.Rgba[3]);
        Assert.Equal(255, cat.Rgba[(19 * 4) + 3]);

        var options = new DetectionSceneOptions { ImageCount = 3, Width = 64, Height = 64, MinObjectSize = 16, MaxObjectSize = 20, MaxObjects = 2 };
        var gt = DetectionSceneGenerator.Generate(source, options, Path.Combine(_dir, "out"));
        Assert.All(gt.Annotations.Where(a => a.CategoryId == 1), a => Assert.True(a.Bbox.Width < 16, "transparent half is not in the box"));
    }

    [Fact]
    public void Cli_help_renders_for_both_commands()
    {
        Assert.Equal(0, VkD.Cli.Program.Main(["detect", "eval", "--help"]));
        Assert.Equal(0, VkD.Cli.Program.Main(["data", "make-detection", "--help"]));
    }
}
