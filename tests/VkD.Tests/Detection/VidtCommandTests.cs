using SkiaSharp;
using Spectre.Console;
using VkD.Cli;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Detection.Inference;
using VkD.Detection.Models;
using VkD.Detection.Synthesis;
using VkD.Tests.Detection.Models;

namespace VkD.Tests.Detection;

/// <summary><c>vkd detect eval --resume</c> and <c>vkd detect predict</c> end to end on a generated COCO set with a
/// small random-weight ViDT saved in ViDT's checkpoint layout.</summary>
public sealed class VidtCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-vidt-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Coloured discs, squares and triangles with alpha: three classes of cut-outs.</summary>
    internal sealed class ShapeSource : IObjectSource
    {
        public IReadOnlyList<string> ClassNames { get; } = ["disc", "square", "triangle"];

        public int Count => 12;

        public bool IsGlyph => false;

        public (DetectionImage Cutout, int ClassIndex) Get(int index)
        {
            var cls = index % 3;
            var side = 14 + (index % 4 * 3);
            using var bitmap = new SKBitmap(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(bitmap))
            using (var paint = new SKPaint { Color = new SKColor((byte)(60 * cls), (byte)(200 - (40 * cls)), 90), IsAntialias = false })
            {
                canvas.Clear(SKColors.Transparent);
                switch (cls)
                {
                    case 0:
                        canvas.DrawCircle(side / 2f, side / 2f, side / 2f, paint);
                        break;
                    case 1:
                        canvas.DrawRect(0, 0, side, side, paint);
                        break;
                    default:
                        using (var path = new SKPath())
                        {
                            path.MoveTo(side / 2f, 0);
                            path.LineTo(side, side);
                            path.LineTo(0, side);
                            path.Close();
                            canvas.DrawPath(path, paint);
                        }
                        break;
                }
            }
            using var unpremul = new SKBitmap(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            bitmap.CopyTo(unpremul);
            return (new DetectionImage(side, side, unpremul.GetPixelSpan().ToArray()), cls);
        }
    }

    private static (int Code, string Output) Run(params string[] args) => VkD.Tests.Cli.CliRunner.Run(args);

    /// <summary>A generated 5-image set (3 classes, ids 1..3) and a random reduced ViDT (4 classes) saved as ViDT's
    /// main.py saves a checkpoint.</summary>
    private (string Data, CocoDataset Gt, string Checkpoint) Setup()
    {
        var data = Path.Combine(_dir, "set");
        var gt = DetectionSceneGenerator.Generate(new ShapeSource(),
            new DetectionSceneOptions { ImageCount = 5, Width = 96, Height = 72, MinObjectSize = 14, MaxObjectSize = 24, MaxObjects = 3, Seed = 5 }, data);
        TorchSharp.torch.manual_seed(11);
        using var model = new VidtDetector(VidtCheckpointTests.Reduced with { NumClasses = 4 });
        var checkpoint = Path.Combine(_dir, "checkpoint.pth");
        VidtCheckpoint.Save(model, checkpoint, epoch: 49, new Dictionary<string, object?>
        {
            ["optimizer"] = new Dictionary<string, object?> { ["state"] = new Dictionary<string, object?>(), ["param_groups"] = new List<object?>() },
            ["lr_scheduler"] = new Dictionary<string, object?> { ["last_epoch"] = 49 },
        });
        return (data, gt, checkpoint);
    }

    [Fact]
    public void Detect_eval_runs_a_vidt_checkpoint_end_to_end_and_its_results_evaluate_to_the_same_numbers()
    {
        var (data, gt, checkpoint) = Setup();
        var outDir = Path.Combine(_dir, "eval");
        var (code, output) = Run("detect", "eval", "--method", "vidt", "--resume", checkpoint, "--coco_path", data, "--eval_size", "96",
            "--batch_size", "2", "--output_dir", outDir, "--aux_loss", "True", "--with_box_refine", "True", "--det_token_num", "4",
            "--nheads", "4", "--dec_n_points", "2", "--num_workers", "2", "--pre_trained", "none", "--eval", "True");
        Assert.True(code == 0, output);
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var summary = lines.Where(l => l.StartsWith(" Average ", StringComparison.Ordinal)).ToList();
        Assert.Equal(12, summary.Count);
        Assert.StartsWith(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ", summary[0]);
        Assert.Contains(lines, l => l.Contains("[ViDT eval] 5/5 images |", StringComparison.Ordinal) && l.Contains("img/s | eta 00:00:00", StringComparison.Ordinal));
        Assert.Contains("keys matched", output); // a strict load

        var resultsPath = Path.Combine(outDir, "coco_results.json");
        var statsPath = Path.Combine(outDir, "coco_stats.json");
        var results = CocoResultsFile.Load(resultsPath);
        Assert.Equal(5 * 16, results.Count); // ViDT's top min(100, 4 queries x 4 classes) per image
        Assert.Equal(gt.Images.Select(i => i.Id).Order(), results.Select(r => r.ImageId).Distinct().Order());
        Assert.All(results, r => Assert.InRange(r.CategoryId, 0, 3));
        var stats = System.Text.Json.JsonDocument.Parse(File.ReadAllText(statsPath)).RootElement;
        Assert.Equal(12, stats.EnumerateObject().Count());
        var expected = CocoEvaluator.Evaluate(gt, results);
        Assert.Equal(expected.Stats[0], stats.GetProperty("AP").GetDouble());
        Assert.Equal(expected.Summary.Select(s => s.Line), summary);

        // The library entry point gives the same detections.
        var library = VidtEvaluation.Run(new VidtEvaluationOptions { CheckpointPath = checkpoint, CocoPath = data, EvalSize = 96, NHeads = 4, DecNPoints = 2 });
        Assert.Equal(results.Select(r => (r.ImageId, r.CategoryId)), library.Detections.Select(r => (r.ImageId, r.CategoryId)));
        Assert.Equal(results.Select(r => r.Score), library.Detections.Select(r => r.Score));
        Assert.True(library.Report.IsExact);
        Assert.Equal(5, library.Images);

        // Results mode of the same command, as before --resume existed.
        var (code2, output2) = Run("detect", "eval", "--coco-gt", Path.Combine(data, "annotations.json"), "--results", resultsPath);
        Assert.True(code2 == 0, output2);
        Assert.Equal(expected.FormatSummary().Replace("\r", "", StringComparison.Ordinal), output2.Replace("\r", "", StringComparison.Ordinal));
    }

    [Fact]
    public void Detect_eval_answers_bad_paths_flags_and_checkpoints_with_exit_2_and_what_is_wrong()
    {
        var (data, _, checkpoint) = Setup();
        var missing = Path.Combine(_dir, "nope.pth");
        var (code, output) = Run("detect", "eval", "--resume", missing, "--coco_path", data);
        Assert.Equal(2, code);
        Assert.Contains(missing, output);

        var noDir = Path.Combine(_dir, "no-coco");
        (code, output) = Run("detect", "eval", "--resume", checkpoint, "--coco_path", noDir);
        Assert.Equal(2, code);
        Assert.Contains(noDir, output);

        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        (code, output) = Run("detect", "eval", "--resume", checkpoint, "--coco_path", empty);
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine(empty, "annotations", "instances_val2017.json"), output);
        Assert.Contains(Path.Combine(empty, "annotations.json"), output);

        (code, output) = Run("detect", "eval", "--nproc_per_node=8", "--resume", checkpoint, "--coco_path", data);
        Assert.Equal(2, code);
        Assert.Contains("--nproc_per_node", output);
        Assert.Contains("torch.distributed.launch", output);

        (code, output) = Run("detect", "eval", "--resume", checkpoint, "--coco_path", data, "--backbone_name", "swin_nano", "--eval_size", "96");
        Assert.Equal(2, code);
        Assert.Contains("backbone.patch_embed.proj.weight", output);
        Assert.Contains("swin_nano", output);

        (code, output) = Run("detect", "eval", "--resume", checkpoint, "--coco_path", data, "--with_box_refine", "False", "--nheads", "4", "--dec_n_points", "2");
        Assert.Equal(2, code);
        Assert.Contains("--with_box_refine True", output);

        (code, output) = Run("detect", "eval", "--resume", checkpoint, "--coco_path", data, "--aux_loss", "yes");
        Assert.Equal(2, code);
        Assert.Contains("--aux_loss takes True or False", output);

        (code, output) = Run("detect", "eval", "--resume", checkpoint, "--coco_path", data, "--epff", "True");
        Assert.Equal(2, code);
        Assert.Contains("ViDT+", output);

        (code, output) = Run("detect", "eval", "--resume", checkpoint, "--results", "r.json", "--coco_path", data);
        Assert.Equal(2, code);
        Assert.Contains("not both", output);

        var notCheckpoint = Path.Combine(_dir, "garbage.pth");
        File.WriteAllText(notCheckpoint, "not a checkpoint");
        (code, output) = Run("detect", "eval", "--resume", notCheckpoint, "--coco_path", data);
        Assert.Equal(2, code);
        Assert.Contains(notCheckpoint, output);
    }

    [Fact]
    public void Detect_predict_writes_decodable_pngs_of_the_input_size_with_the_detections_drawn()
    {
        var (data, gt, checkpoint) = Setup();
        var outDir = Path.Combine(_dir, "drawn");
        var first = Path.Combine(data, gt.Images[0].FileName);
        var second = Path.Combine(data, gt.Images[1].FileName);
        var (code, output) = Run("detect", "predict", "--resume", checkpoint, first, second, "--out", outDir, "--threshold", "0",
            "--eval_size", "96", "--nheads", "4", "--dec_n_points", "2", "--coco-gt", Path.Combine(data, "annotations.json"));
        Assert.True(code == 0, output);
        Assert.Contains("16 detections with score >= 0", output);
        Assert.Matches(@"\n  (disc|square|triangle|class 0) 0\.\d{3} \[", output);
        foreach (var input in new[] { first, second })
        {
            var written = Path.Combine(outDir, Path.GetFileNameWithoutExtension(input) + ".png");
            var original = DetectionImage.Load(input);
            var drawn = DetectionImage.Load(written);
            Assert.Equal((original.Width, original.Height), (drawn.Width, drawn.Height));
            var changed = 0;
            for (var p = 0; p < original.Rgba.Length; p += 4)
            {
                if (original.Rgba[p] != drawn.Rgba[p] || original.Rgba[p + 1] != drawn.Rgba[p + 1] || original.Rgba[p + 2] != drawn.Rgba[p + 2])
                {
                    changed++;
                }
            }
            Assert.True(changed > original.Width * 4, $"{written}: only {changed} pixels changed");
        }

        // Nothing above the threshold: the image comes back unchanged.
        var untouched = Path.Combine(_dir, "untouched");
        (code, output) = Run("detect", "predict", "--resume", checkpoint, first, "--out", untouched, "--threshold", "1", "--eval_size", "96",
            "--nheads", "4", "--dec_n_points", "2");
        Assert.True(code == 0, output);
        Assert.Contains("0 detections", output);
        Assert.Equal(DetectionImage.Load(first).Rgba, DetectionImage.Load(Path.Combine(untouched, Path.GetFileNameWithoutExtension(first) + ".png")).Rgba);

        var missing = Path.Combine(_dir, "missing.png");
        (code, output) = Run("detect", "predict", "--resume", checkpoint, missing, "--out", outDir);
        Assert.Equal(2, code);
        Assert.Contains(missing, output);
    }

    [Fact]
    public void Drawing_puts_each_box_in_its_category_colour_at_its_place()
    {
        var pixels = new byte[64 * 48 * 4];
        for (var i = 0; i < pixels.Length; i += 4)
        {
            (pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]) = ((byte)250, (byte)250, (byte)250, (byte)255);
        }
        var image = new DetectionImage(64, 48, pixels);
        var box = new CocoDetection(0, 3, new BoxXywh(20, 24, 30, 20), 0.9);
        var drawn = DetectionDrawing.Draw(image, [box], _ => "x");
        var color = DetectionDrawing.ColorOf(3);
        byte[] At(int x, int y) => drawn.Rgba.AsSpan(((y * 64) + x) * 4, 3).ToArray();
        Assert.Equal(new[] { color.Red, color.Green, color.Blue }, At(35, 44)); // bottom edge of the box
        Assert.Equal(new byte[] { 250, 250, 250 }, At(35, 34)); // inside, untouched
        Assert.Equal(new byte[] { 250, 250, 250 }, At(5, 40)); // outside
        Assert.Equal(91, CocoCategoryNames.Count);
        Assert.Equal("person", CocoCategoryNames.Get(1));
        Assert.Equal("toothbrush", CocoCategoryNames.Get(90));
        Assert.Null(CocoCategoryNames.Get(12));
    }

    [Fact]
    public void The_dataset_folder_is_cocos_layout_or_make_detections()
    {
        var coco = Path.Combine(_dir, "coco");
        Directory.CreateDirectory(Path.Combine(coco, "annotations"));
        File.WriteAllText(Path.Combine(coco, "annotations.json"), "{}");
        File.WriteAllText(Path.Combine(coco, "annotations", "instances_val2017.json"), "{}");
        // ViDT's datasets/coco.py layout wins, and its image folder must exist.
        var e = Assert.Throws<DirectoryNotFoundException>(() => VidtEvaluation.ResolveDataset(coco));
        Assert.Contains(Path.Combine(coco, "val2017"), e.Message);
        Directory.CreateDirectory(Path.Combine(coco, "val2017"));
        Assert.Equal((Path.Combine(coco, "annotations", "instances_val2017.json"), Path.Combine(coco, "val2017")), VidtEvaluation.ResolveDataset(coco));
        File.Delete(Path.Combine(coco, "annotations", "instances_val2017.json"));
        Assert.Equal((Path.Combine(coco, "annotations.json"), coco), VidtEvaluation.ResolveDataset(coco));
        var gt = Path.Combine(_dir, "gt.json");
        File.WriteAllText(gt, "{}");
        Assert.Equal((gt, coco), VidtEvaluation.ResolveDataset(coco, gt));
        Assert.Contains("missing.json", Assert.Throws<FileNotFoundException>(() => VidtEvaluation.ResolveDataset(coco, Path.Combine(_dir, "missing.json"))).Message);
    }

    [Fact]
    public void Help_renders_for_detect_predict()
    {
        Assert.Equal(0, Run("detect", "predict", "--help").Code);
        Assert.Equal(0, Run("detect", "eval", "--help").Code);
    }
}
