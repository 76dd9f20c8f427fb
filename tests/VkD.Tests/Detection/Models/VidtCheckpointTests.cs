using TorchSharp;
using VkD.Detection.Models;
using VkD.Interop.Checkpoints;
using VkD.Models.Swin;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Models.VidtTestSupport;

namespace VkD.Tests.Detection.Models;

/// <summary>ViDT checkpoints (naver-ai/vidt main.py's layout) in and out of <see cref="VidtDetector"/>, and the
/// variant without box refinement against its PyTorch restatement.</summary>
public sealed class VidtCheckpointTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"vkd-vidtckpt-{Guid.NewGuid():N}");

    /// <summary>The fixtures' reduced detector (width-4 Swin-RAM, neck/decoder width 32, 2 layers, 5 classes).</summary>
    internal static VidtConfig Reduced => new(VidtSwinRamTests.Reduced, NumClasses: 5, HiddenDim: 32, NHeads: 4, DecLayers: 2,
        DimFeedforward: 64, DecNPoints: 2);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private string TempFile(string name)
    {
        Directory.CreateDirectory(_dir);
        return Path.Combine(_dir, name);
    }

    private static Dictionary<string, Tensor> Read(string file) => VidtCheckpoint.ReadStateDict(FixturePath(file));

    private static void DisposeAll(Dictionary<string, Tensor> sd)
    {
        foreach (var t in sd.Values)
        {
            t.Dispose();
        }
    }

    [Fact]
    public void Release_layout_without_box_refine_is_recognised_loads_strictly_and_matches_pytorch()
    {
        // model + optimizer + lr_scheduler + epoch + argparse.Namespace, as ViDT's main.py writes it.
        var path = FixturePath("vidt_small_norefine_release.pth");
        var layout = VidtCheckpoint.Inspect(path);
        Assert.False(layout.WithBoxRefine);
        Assert.False(layout.HasAlias);
        Assert.Null(layout.BackboneName);
        Assert.Equal((5, 32, 2, 64), (layout.NumClasses, layout.HiddenDim, layout.DecLayers, layout.DimFeedforward));
        Assert.Equal((4, 5, 2.0, 4, 32, 32), (layout.Backbone.EmbedDim, layout.Backbone.WindowSize, layout.Backbone.MlpRatio,
            layout.Backbone.DetTokenNum, layout.Backbone.PosDim, layout.Backbone.NeckDim));
        Assert.Equal([2, 1, 1, 2], layout.Backbone.Depths);
        Assert.Equal([1, 2, 2, 4], layout.Backbone.NumHeads);

        var (model, report) = VidtCheckpoint.LoadModel(path, nHeads: 4, decNPoints: 2);
        using var _ = model;
        Assert.True(report.IsExact, report.Describe());
        Assert.False(model.Config.WithBoxRefine);

        using var input = Fixture.Load(Part, "vidt_small");
        using var f = Fixture.Load(Part, "vidt_small_norefine");
        using var noGrad = no_grad();
        using var outputs = model.forward(input["input"].to(float32), input["mask"]);
        var errors = new List<string>
        {
            $"body {AssertClose(f["body_det_token"], outputs.BodyDetToken, 1e-4, "body_det_token"):g3}",
            $"hs {AssertClose(f["hs"], outputs.NeckDetToken, 1e-4, "hs"):g3}",
            $"init_reference {AssertClose(f["init_reference"], outputs.InitReference, 1e-5, "init_reference"):g3}",
            $"inter_references {AssertClose(f["inter_references"], outputs.InterReferences, 1e-5, "inter_references"):g3}",
            $"logits {AssertClose(f["logits"], outputs.Logits, 1e-4, "logits"):g3}",
            $"boxes {AssertClose(f["boxes"], outputs.Boxes, 1e-4, "boxes"):g3}",
        };
        Assert.Equal(2, outputs.InterReferences.shape[^1]);
        output.WriteLine("ViDT without box refinement, max abs diff: " + string.Join("; ", errors));
    }

    [Fact]
    public void Without_box_refine_one_head_pair_is_shared_as_in_vidt()
    {
        using var model = new VidtDetector(VidtConfig.Nano with { WithBoxRefine = false });
        var sd = model.state_dict();
        // Listed once per prediction (7), the same tensor each time; counted once in the parameters.
        Assert.Equal([0f, 0f, -2f, -2f], sd["bbox_embed.3.layers.2.bias"].data<float>().ToArray());
        using (no_grad())
        {
            sd["class_embed.0.bias"].add_(1.0);
            sd["bbox_embed.0.layers.2.bias"].add_(1.0);
        }
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(1 - Math.Log(99), sd[$"class_embed.{i}.bias"][0].item<float>(), 5);
            Assert.Equal([1f, 1f, -1f, -1f], sd[$"bbox_embed.{i}.layers.2.bias"].data<float>().ToArray());
        }
        Assert.DoesNotContain(sd.Keys, k => k.StartsWith("transformer.decoder.bbox_embed", StringComparison.Ordinal));
        var perPrediction = (256 * 91) + 91 + (2 * ((256 * 256) + 256)) + (256 * 4) + 4;
        Assert.Equal(15_728_677L - (6L * perPrediction), model.parameters().Sum(p => p.numel()));
        // ViDT's key order: the box-refine layout without the alias entries.
        Assert.Equal(Layout("vidt_nano").Select(e => e.Key).Where(k => !k.StartsWith("transformer.decoder.bbox_embed.", StringComparison.Ordinal)),
            VidtCheckpoint.StateDict(model).Keys);
        Assert.Equal(sd.Keys.Order(StringComparer.Ordinal), VidtCheckpoint.StateDict(model).Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Box_refine_state_dict_with_vidts_alias_loads_and_saving_writes_the_alias_back_in_vidts_order()
    {
        using var model = new VidtDetector(Reduced);
        var report = VidtCheckpoint.Load(model, FixturePath("vidt_small_weights.pth"));
        Assert.True(report.IsExact, report.Describe());

        // ViDT's full nano state dict order, alias included.
        using var nano = new VidtDetector(VidtConfig.Nano);
        Assert.Equal(Layout("vidt_nano").Select(e => e.Key), VidtCheckpoint.StateDict(nano).Keys);

        var path = TempFile("checkpoint.pth");
        VidtCheckpoint.Save(model, path, epoch: 7, new Dictionary<string, object?> { ["optimizer"] = new Dictionary<string, object?> { ["state"] = new Dictionary<string, object?>() } });
        using (var file = CheckpointReader.Read(path))
        {
            Assert.Equal(["epoch", "model", "optimizer"], file.Entries.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(7L, Convert.ToInt64(file.Entries["epoch"], System.Globalization.CultureInfo.InvariantCulture));
        }
        var layout = VidtCheckpoint.Inspect(path);
        Assert.True(layout.HasAlias);
        Assert.True(layout.WithBoxRefine);
        var (reloaded, reloadReport) = VidtCheckpoint.LoadModel(path, Reduced);
        using var __ = reloaded;
        Assert.True(reloadReport.IsExact);
        model.eval();
        using var noGrad = no_grad();
        using var x = torch.randn(1, 3, 64, 96);
        using var a = model.forward(x);
        using var b = reloaded.forward(x);
        Assert.True(a.Boxes.eq(b.Boxes).all().item<bool>());
        Assert.True(a.Logits.eq(b.Logits).all().item<bool>());
    }

    [Fact]
    public void Unshared_heads_without_the_alias_still_count_as_box_refine()
    {
        // A state dict of VkD.NET's own model (state_dict(), no alias): the heads differ, so it is a box-refine one.
        using var model = new VidtDetector(Reduced);
        var layout = VidtCheckpoint.Inspect(model.state_dict(), "own state dict");
        Assert.True(layout.WithBoxRefine);
        Assert.False(layout.HasAlias);
        using var shared = new VidtDetector(Reduced with { WithBoxRefine = false });
        Assert.False(VidtCheckpoint.Inspect(shared.state_dict(), "shared").WithBoxRefine);
    }

    [Fact]
    public void A_checkpoint_of_another_backbone_names_the_key_and_the_flag()
    {
        using var nano = new VidtDetector(VidtConfig.Nano);
        var layout = VidtCheckpoint.Inspect(VidtCheckpoint.StateDict(nano), "vidt_nano_50.pth");
        Assert.Equal("swin_nano", layout.BackboneName);
        Assert.Equal(SwinRamConfig.Nano.DropPathRate, layout.Backbone.DropPathRate);
        var e = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.CheckCompatible(layout, VidtConfig.Tiny, "vidt_nano_50.pth"));
        Assert.Equal("backbone.patch_embed.proj.weight", e.Key);
        Assert.Contains("vidt_nano_50.pth", e.Message);
        Assert.Contains("swin_nano (embed_dim 48", e.Message);
        Assert.Contains("swin_tiny (embed_dim 96", e.Message);
        Assert.Contains("--backbone_name swin_nano", e.Message);

        // Same width, other depths (tiny vs small): the stage is named.
        var e2 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.CheckCompatible(layout with { Backbone = SwinRamConfig.Tiny, BackboneName = "swin_tiny" }, VidtConfig.Small, "t.pth"));
        Assert.Equal("backbone.layers.2.blocks", e2.Key);
        Assert.Contains("depths 2-2-18-2", e2.Message);

        // Through the loader, from a file: a reduced checkpoint into the nano model.
        using var target = new VidtDetector(Reduced with { Backbone = Reduced.Backbone with { EmbedDim = 8, NumHeads = [2, 2, 4, 4] } });
        var e3 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.Load(target, FixturePath("vidt_small_weights.pth")));
        Assert.Contains("vidt_small_weights.pth", e3.Message);
        Assert.Contains("custom Swin (embed_dim 4", e3.Message);
    }

    [Fact]
    public void Head_count_det_tokens_and_box_refine_mismatches_are_named()
    {
        var sd = Read("vidt_small_weights.pth");
        try
        {
            var layout = VidtCheckpoint.Inspect(sd, "refined.pth");
            var e = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.CheckCompatible(layout, Reduced with { WithBoxRefine = false }, "refined.pth"));
            Assert.Contains("--with_box_refine True", e.Message);
            Assert.Equal("transformer.decoder.bbox_embed.0.layers.0.weight", e.Key);

            var tokens = Reduced with { Backbone = Reduced.Backbone with { DetTokenNum = 100 } };
            var e2 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.CheckCompatible(layout, tokens, "refined.pth"));
            Assert.Equal("backbone.det_token", e2.Key);
            Assert.Contains("[1, 4, 4]", e2.Message);
            Assert.Contains("--det_token_num 4", e2.Message);

            var e3 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.CheckCompatible(layout, Reduced with { NumClasses = 91 }, "refined.pth"));
            Assert.Contains("class_embed.0.weight [5, 32]", e3.Message);

            var e4 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.CheckCompatible(layout, Reduced with { DecLayers = 6 }, "refined.pth"));
            Assert.Contains("2 decoder layers", e4.Message);
        }
        finally
        {
            DisposeAll(sd);
        }
        var shared = Read("vidt_small_norefine_release.pth");
        try
        {
            var e = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.CheckCompatible(VidtCheckpoint.Inspect(shared, "shared.pth"), Reduced, "shared.pth"));
            Assert.Contains("--with_box_refine False", e.Message);
        }
        finally
        {
            DisposeAll(shared);
        }
    }

    [Fact]
    public void Missing_unexpected_and_misshapen_keys_fail_the_strict_load_with_their_names()
    {
        using var model = new VidtDetector(Reduced);
        var sd = Read("vidt_small_weights.pth");
        try
        {
            using var extra = torch.zeros(3);
            var broken = new Dictionary<string, Tensor>(sd);
            broken.Remove("transformer.decoder.layers.1.norm2.bias");
            broken["transformer.reference_points.weight"] = torch.zeros(2, 16);
            broken["backbone.extra_token"] = extra;
            var before = model.state_dict()["transformer.decoder.layers.0.linear1.weight"].clone();
            var e = Assert.Throws<CheckpointMismatchException>(() => VidtCheckpoint.LoadStateDict(model, broken, "broken.pth"));
            Assert.Contains("broken.pth", e.Message);
            Assert.Equal(["transformer.decoder.layers.1.norm2.bias"], e.Report.Missing);
            Assert.Equal(["backbone.extra_token"], e.Report.Unexpected);
            Assert.Contains("transformer.reference_points.weight: expected [2, 32], found [2, 16]", e.Message);
            // Strict: nothing was copied.
            Assert.True(before.eq(model.state_dict()["transformer.decoder.layers.0.linear1.weight"]).all().item<bool>());
            broken["transformer.reference_points.weight"].Dispose();

            var tampered = new Dictionary<string, Tensor>(sd);
            using var other = torch.zeros_like(sd["transformer.decoder.bbox_embed.1.layers.0.weight"]);
            tampered["transformer.decoder.bbox_embed.1.layers.0.weight"] = other;
            var e2 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.LoadStateDict(model, tampered, "tampered.pth"));
            Assert.Equal("transformer.decoder.bbox_embed.1.layers.0.weight", e2.Key);
            Assert.Contains("same tensor as 'bbox_embed.1.layers.0.weight'", e2.Message);

            var incomplete = new Dictionary<string, Tensor>(sd);
            incomplete.Remove("backbone.det_token");
            var e3 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.LoadStateDict(model, incomplete, "incomplete.pth"));
            Assert.Contains("'backbone.det_token' is missing", e3.Message);
        }
        finally
        {
            DisposeAll(sd);
        }
    }

    [Fact]
    public void Vidt_plus_swin_classification_and_unrelated_checkpoints_are_refused_clearly()
    {
        var sd = Read("vidt_small_weights.pth");
        try
        {
            using var fusion = torch.zeros(32, 8);
            var plus = new Dictionary<string, Tensor>(sd) { ["fusion.lateral_convs.0.weight"] = fusion };
            var e = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.Inspect(plus, "vidt_plus_nano_det300.pth"));
            Assert.Equal("fusion.lateral_convs.0.weight", e.Key);
            Assert.Contains("ViDT+", e.Message);
            Assert.Contains("--epff True", e.Message);

            // An ImageNet Swin checkpoint (no backbone. prefix, a classification head) passed as a detector.
            var swin = sd.Where(kv => kv.Key.StartsWith("backbone.", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key["backbone.".Length..], kv => kv.Value);
            using var head = torch.zeros(1000, 32);
            swin["head.weight"] = head;
            var e2 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.Inspect(swin, "swin_nano_patch4_window7_224.pth"));
            Assert.Contains("Swin backbone checkpoint", e2.Message);
            Assert.Contains("--pre_trained", e2.Message);

            using var w = torch.zeros(10, 3);
            var e3 = Assert.Throws<VidtCheckpointException>(() => VidtCheckpoint.Inspect(new Dictionary<string, Tensor> { ["fc.weight"] = w }, "resnet.pth"));
            Assert.Contains("not a ViDT detector state dict", e3.Message);
            Assert.Contains("fc.weight", e3.Message);
        }
        finally
        {
            DisposeAll(sd);
        }
        var missing = Path.Combine(_dir, "nope.pth");
        var e4 = Assert.Throws<FileNotFoundException>(() => VidtCheckpoint.Inspect(missing));
        Assert.Contains("nope.pth", e4.Message);
    }

    [Fact]
    public void Backbone_names_are_vidts()
    {
        Assert.Same(SwinRamConfig.Nano, VidtCheckpoint.BackboneByName("swin_nano"));
        Assert.Same(SwinRamConfig.Base, VidtCheckpoint.BackboneByName("swin_base_win7_22k"));
        Assert.Equal("swin_small", VidtCheckpoint.BackboneName(SwinRamConfig.Small));
        var e = Assert.Throws<ArgumentException>(() => VidtCheckpoint.BackboneByName("coat_lite_tiny"));
        Assert.Contains("swin_nano", e.Message);
    }

    [Fact]
    public void An_empty_batch_images_smaller_than_a_window_and_a_wrong_mask_are_refused_with_their_shapes()
    {
        using var model = new VidtDetector(Reduced);
        model.eval();
        using var noGrad = no_grad();
        using var empty = torch.zeros(0, 3, 64, 64);
        var e = Assert.Throws<ArgumentException>(() => model.forward(empty));
        Assert.Contains("Empty batch", e.Message);
        Assert.Contains("[0, 3, 64, 64]", e.Message);

        Assert.Equal(32, model.MinImageSide);
        using var small = torch.zeros(1, 3, 20, 64);
        var e2 = Assert.Throws<ArgumentException>(() => model.forward(small));
        Assert.Contains("20x64", e2.Message);
        Assert.Contains("at least 32 px", e2.Message);

        using var ok = torch.zeros(2, 3, 32, 40);
        using var badMask = torch.zeros(2, 32, 41, ScalarType.Bool);
        var e3 = Assert.Throws<ArgumentException>(() => model.forward(ok, badMask));
        Assert.Contains("[2, 32, 40]", e3.Message);
        Assert.Contains("[2, 32, 41]", e3.Message);

        using var gray = torch.zeros(1, 1, 64, 64);
        Assert.Contains("[1, 1, 64, 64]", Assert.Throws<ArgumentException>(() => model.forward(gray)).Message);
        // The smallest accepted image runs.
        using var outputs = model.forward(ok);
        Assert.Equal(new long[] { 2, 4, 5 }, outputs.PredLogits.shape);
    }
}
