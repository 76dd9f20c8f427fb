using Spectre.Console;
using VkD.Cli;
using VkD.Detection.Models;
using VkD.Tests.Detection.Training;
using VkD.Training.Logging;

namespace VkD.Tests.Detection;

/// <summary><c>vkd detect train</c> and <c>vkd detect distill</c> end to end on tiny generated train/ and val/ sets with a
/// reduced Swin-nano ViDT: a few steps, exit 0, the run files, checkpoints that load back with <see cref="VidtCheckpoint"/>,
/// and the teacher of a distillation loaded from the first run's output.</summary>
public sealed class DetectTrainCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-det-train-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output) Run(params string[] args) => VkD.Tests.Cli.CliRunner.Run(args);

    // ViDT's README training command (the launcher part dropped), sized down: Swin-nano with a 32-wide, 2-layer decoder
    // and 4 [DET] tokens on 64 px images.
    private string[] Command(string verb, string data, string output, params string[] extra) =>
    [
        "detect", verb, "--method", "vidt", "--backbone_name", "swin_nano", "--epochs", "2", "--lr", "1e-4", "--min-lr", "1e-7",
        "--batch_size", "2", "--num_workers", "2", "--aux_loss", "True", "--with_box_refine", "True", "--coco_path", data,
        "--output_dir", output, "--pre_trained", "none", "--det_token_num", "4", "--reduced_dim", "32", "--dec_layers", "2",
        "--dim_feedforward", "64", "--nheads", "4", "--dec_n_points", "2", "--num_classes", "4", "--train_size", "64", "--eval_size", "64",
        "--threads", "1", .. extra,
    ];

    /// <summary><paramref name="args"/> with <paramref name="flag"/>'s value replaced (or the flag removed when
    /// <paramref name="value"/> is null).</summary>
    private static string[] With(string[] args, string flag, string? value)
    {
        var i = Array.IndexOf(args, flag);
        Assert.True(i >= 0, flag);
        return value is null ? [.. args[..i], .. args[(i + 2)..]] : [.. args[..(i + 1)], value, .. args[(i + 2)..]];
    }

    private static VidtConfig NanoReduced => new(
        VidtCheckpoint.BackboneByName("swin_nano") with { DetTokenNum = 4, PosDim = 32 },
        NumClasses: 4, HiddenDim: 32, NHeads: 4, DecLayers: 2, DimFeedforward: 64, DecNPoints: 2, WithBoxRefine: true);

    [Fact]
    public void Detect_train_then_distill_run_end_to_end_and_their_checkpoints_load_back()
    {
        var data = DetectionTrainingTestData.MakeSets(Path.Combine(_dir, "data"), trainImages: 4, valImages: 2);
        var teacherDir = Path.Combine(_dir, "teacher");
        var (code, output) = Run(Command("train", data, teacherDir));
        Assert.True(code == 0, output);
        Assert.Contains("[ViDT train] student vidt_nano: swin_nano, 4 [DET], 4 classes, 2 decoder layers, box refine", output);
        Assert.Contains("head ", output);
        Assert.Contains("with ViDT's one-epoch lag", output);
        Assert.Contains("[ViDT train] epoch 2/2 done", output);
        Assert.Contains("Finished 2 epochs", output);
        foreach (var file in new[] { RunFiles.LatestCheckpoint, RunFiles.FinalWeights, RunFiles.SummaryJson, RunFiles.ConfigJson, RunFiles.LossPlot,
                     RunFiles.AccuracyPlot, "checkpoint.pth", RunFiles.EpochsCsv, RunFiles.IterationsCsv })
        {
            Assert.True(File.Exists(Path.Combine(teacherDir, file)), file);
        }
        var epochs = File.ReadAllLines(Path.Combine(teacherDir, RunFiles.EpochsCsv));
        Assert.StartsWith("epoch,train_loss,AP,AP50,AP75,", epochs[0]);
        Assert.Equal(3, epochs.Length);
        var iterations = File.ReadAllLines(Path.Combine(teacherDir, RunFiles.IterationsCsv));
        Assert.Equal("epoch,itr,lr,loss_ce,loss_bbox,loss_giou,loss_ce_0,loss_bbox_0,loss_giou_0,loss_ce_1,loss_bbox_1,loss_giou_1,class_error,total,seconds", iterations[0]);
        Assert.Equal(5, iterations.Length); // 2 epochs x 2 batches
        using (var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(teacherDir, RunFiles.ConfigJson))))
        {
            Assert.Equal("swin_nano", config.RootElement.GetProperty("backbone_name").GetString());
            Assert.Equal("True", config.RootElement.GetProperty("aux_loss").GetString());
        }
        // Every weights file of the run loads strictly as the detector the flags describe.
        foreach (var file in new[] { "checkpoint.pth", RunFiles.LatestCheckpoint, RunFiles.FinalWeights, RunFiles.BestCheckpoint })
        {
            using var model = new VidtDetector(NanoReduced);
            Assert.True(VidtCheckpoint.Load(model, Path.Combine(teacherDir, file)).IsExact, file);
        }
        var layout = VidtCheckpoint.Inspect(Path.Combine(teacherDir, "checkpoint.pth"));
        Assert.True(layout.HasAlias);
        Assert.Equal("swin_nano", layout.BackboneName);

        // VkD's distillation from that run (the reference's flag spelling: the teacher's ViDT name), one epoch.
        var studentDir = Path.Combine(_dir, "student");
        var (code2, output2) = Run(Command("distill", data, studentDir,
            "--distil_model", "vidt_nano", "--distil_model_path", Path.Combine(teacherDir, "checkpoint.pth"), "--distil_loss_coef", "4.0"));
        Assert.True(code2 == 0, output2);
        Assert.Contains("[ViDT distill] teacher ", output2);
        Assert.Contains("patch_projector_1 ScaledOrthogonalProjector 32->32", output2);
        var header = File.ReadLines(Path.Combine(studentDir, RunFiles.IterationsCsv)).First();
        Assert.Contains("loss_distil_patch_1,loss_distil_patch_2,loss_distil_patch_3,loss_distil_patch_4,loss_distil_body_det,loss_distil_neck_det,class_error,total", header);
        // The distilled student's checkpoints hold the projectors, which VidtCheckpoint leaves out.
        using (var model = new VidtDetector(NanoReduced))
        {
            Assert.True(VidtCheckpoint.Load(model, Path.Combine(studentDir, RunFiles.LatestCheckpoint)).IsExact);
        }

        // ViDT's token matching, and ViDT's --eval True on the result.
        var tokenDir = Path.Combine(_dir, "token");
        var (code3, output3) = Run(With(Command("train", data, tokenDir,
            "--distil_model", "vidt", "--distil_model_path", Path.Combine(teacherDir, "checkpoint.pth")), "--epochs", "1"));
        Assert.True(code3 == 0, output3);
        Assert.Contains(",loss_distil,class_error,total", File.ReadLines(Path.Combine(tokenDir, RunFiles.IterationsCsv)).First());
        var (code4, output4) = Run(Command("train", data, Path.Combine(_dir, "eval"), "--eval", "True", "--resume", Path.Combine(tokenDir, "checkpoint.pth")));
        Assert.True(code4 == 0, output4);
        Assert.Equal(12, output4.Split('\n').Count(l => l.StartsWith(" Average ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Bad_flags_teachers_and_data_exit_2_and_say_what_is_wrong()
    {
        var data = DetectionTrainingTestData.MakeSets(Path.Combine(_dir, "data"), trainImages: 2, valImages: 1);
        var output = Path.Combine(_dir, "out");
        void Fails(string[] args, params string[] expected)
        {
            var (code, text) = Run(args);
            Assert.True(code == 2, $"exit {code}: {text}");
            foreach (var e in expected)
            {
                Assert.Contains(e, text);
            }
        }
        Fails(With(Command("train", data, output), "--pre_trained", null), "--pre_trained imagenet", "--pre_trained none");
        Fails([.. Command("train", data, output), "--nproc_per_node", "6"], "torch.distributed");
        Fails([.. Command("train", data, output), "--aux_loss", "yes"], "--aux_loss takes True or False");
        Fails([.. Command("train", data, output), "--distil_model", "vidt_base"], "--distil_model_path");
        Fails(Command("distill", data, output), "vkd detect distill needs the teacher");
        Fails([.. Command("train", data, output), "--iou_aware", "True"], "ViDT+");
        Fails(Command("train", Path.Combine(_dir, "nowhere"), output), "nowhere");
        Fails(With(Command("train", data, output), "--num_classes", "2"), "category ids go up to 3");

        // A teacher of another [DET] count, and a teacher name that is not the checkpoint's.
        TorchSharp.torch.manual_seed(1);
        var teacherPath = Path.Combine(_dir, "teacher.pth");
        using (var teacher = new VidtDetector(NanoReduced with { Backbone = NanoReduced.Backbone with { DetTokenNum = 6 } }))
        {
            VidtCheckpoint.Save(teacher, teacherPath);
        }
        Fails(Command("distill", data, output, "--distil_model_path", teacherPath), "[DET] tokens", "--det_token_num");
        Fails(Command("distill", data, output, "--distil_model", "vidt_base", "--distil_model_path", teacherPath), "--distil_model vidt_base", "vidt_nano");
    }
}
