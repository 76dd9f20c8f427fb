using TorchSharp;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;
using static VkD.Tests.Models.ModelTestSupport;

namespace VkD.Tests.Models;

/// <summary>The plain Swin classifier against tools/fixtures/make_swin_fixtures.py: a small Swin (C 24, depths 2-2,
/// heads 2-4, window 7, 56 px) whose state dict has the release's layout (<c>model</c> entry, buffers included).</summary>
public class SwinTransformerTests
{
    private static string ReleaseFile => Path.Combine(AppContext.BaseDirectory, "Fixtures", "swin", "swin_small_config.pth");

    private static SwinTransformer Small(int imgSize = 56, int embedDim = 24) =>
        new(new SwinTransformerConfig(imgSize, 4, 3, 10, embedDim, [2, 2], [2, 4]));

    [Fact]
    public void Release_layout_loads_strictly_and_gives_the_pytorch_logits()
    {
        using var model = Small();
        var report = CheckpointLoader.Load(model, ReleaseFile);
        Assert.True(report.IsExact, report.Describe());
        // The buffers are compared with the model's, not copied: the only one shifted block (stage 1 is one window).
        Assert.DoesNotContain("layers.0.blocks.1.attn_mask", report.Loaded);
        Assert.Equal(["layers.0.blocks.0.attn.relative_position_index", "layers.0.blocks.1.attn.relative_position_index",
            "layers.0.blocks.1.attn_mask", "layers.1.blocks.0.attn.relative_position_index", "layers.1.blocks.1.attn.relative_position_index"],
            model.DerivedBufferKeys.Order(StringComparer.Ordinal));
        model.eval();
        using var f = Fixture.Load("swin", "swin_small_config_io");
        using var noGrad = no_grad();
        using var logits = model.forward(f["input"]);
        AssertClose(f["logits"], logits, 1e-4, "swin logits");
        using var outputs = model.ForwardFeatures(f["input"]);
        Assert.Equal([2L, 49, 48], outputs.shape);
    }

    [Fact]
    public void State_dict_keys_and_shapes_equal_the_release_file()
    {
        using var model = Small();
        var file = CheckpointReader.ReadStateDict(ReleaseFile);
        try
        {
            var mine = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            Assert.Equal(file.Keys.Order(StringComparer.Ordinal), mine.Keys.Order(StringComparer.Ordinal));
            Assert.All(file, kv => Assert.Equal(kv.Value.shape, mine[kv.Key]));
            using var mask = model.state_dict()["layers.0.blocks.1.attn_mask"];
            Assert.True(mask.eq(file["layers.0.blocks.1.attn_mask"]).all().item<bool>());
        }
        finally
        {
            foreach (var t in file.Values)
            {
                t.Dispose();
            }
        }
    }

    [Theory]
    [InlineData("swin_tiny_patch4_window7_224", 28_288_354, 190)]
    [InlineData("swin_small_patch4_window7_224", 49_606_258, 364)]
    [InlineData("swin_base_patch4_window7_224", 87_768_224, 364)]
    [InlineData("swin_nano_patch4_window7_224", 7_299_634, 190)]
    public void Registered_variants_have_pytorchs_parameter_counts(string name, long parameters, int stateDictKeys)
    {
        using var model = ModelRegistry.Create(name);
        Assert.Equal(parameters, ParameterCount(model));
        Assert.Equal(stateDictKeys, model.state_dict().Count);
        // 224 px: stages 56, 28, 14, 7; the last stage is one 7x7 window, so its second block is not shifted.
        var sd = model.state_dict();
        Assert.Equal([64L, 49, 49], sd["layers.0.blocks.1.attn_mask"].shape);
        Assert.Equal([4L, 49, 49], sd["layers.2.blocks.1.attn_mask"].shape);
        Assert.DoesNotContain("layers.3.blocks.1.attn_mask", sd.Keys);
        Assert.DoesNotContain("layers.3.downsample.reduction.weight", sd.Keys);
    }

    [Theory]
    [InlineData("swin_tiny_patch4_window7_224")]
    [InlineData("swin_base_patch4_window7_224")]
    public void Full_size_keys_and_shapes_equal_the_pytorch_restatement(string name)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "swin", "layouts.json")));
        var expected = doc.RootElement.GetProperty(name).EnumerateArray()
            .Select(e => (Key: e[0].GetString()!, Shape: e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray())).ToList();
        using var model = ModelRegistry.Create(name);
        var mine = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(expected.Select(e => e.Key).Order(StringComparer.Ordinal), mine.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, e => Assert.Equal(e.Shape, mine[e.Key]));
    }

    [Fact]
    public void Drop_path_ramps_linearly_over_all_blocks_as_timm()
    {
        using var model = (SwinTransformer)ModelRegistry.Create("swin_tiny_patch4_window7_224", new ModelOptions(DropPathRate: 0.2));
        var rates = model.Stages.SelectMany(s => s.Blocks).Select(b => b.DropPathRate).ToArray();
        Assert.Equal(12, rates.Length);
        for (var i = 0; i < rates.Length; i++)
        {
            Assert.Equal(0.2 * i / 11, rates[i], 12);
        }
    }

    [Fact]
    public void Another_width_is_refused_naming_the_key_and_both_shapes()
    {
        using var model = Small(embedDim: 32);
        var ex = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(model, ReleaseFile));
        Assert.Contains("patch_embed.proj.weight: expected [32, 3, 4, 4], found [24, 3, 4, 4]", ex.Message, StringComparison.Ordinal);
        Assert.Contains(ReleaseFile, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_image_size_is_refused_by_the_mask_shapes_and_keys()
    {
        using var model = Small(imgSize: 112);
        var ex = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(model, ReleaseFile));
        Assert.Contains("layers.0.blocks.1.attn_mask: expected [16, 49, 49], found [4, 49, 49]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("layers.1.blocks.1.attn_mask", ex.Report.Missing);
    }

    [Fact]
    public void Another_backbones_file_is_refused_naming_its_keys()
    {
        using var model = Small();
        var deit = FixturePath("vit_small_weights.pth");
        var ex = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(model, deit));
        Assert.Contains("cls_token", ex.Report.Unexpected);
        Assert.Contains("layers.0.blocks.1.attn_mask", ex.Report.Missing);
        Assert.Contains("unexpected keys", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_whose_buffers_differ_is_refused_and_nothing_is_copied()
    {
        using var model = Small();
        var file = CheckpointReader.ReadStateDict(ReleaseFile);
        try
        {
            file["layers.0.blocks.1.attn_mask"].zero_();
            using var before = model.state_dict()["head.weight"].clone();
            var ex = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.LoadStateDict(model, file, source: "tampered.pth"));
            Assert.Equal(["layers.0.blocks.1.attn_mask"], ex.Report.ValueMismatches);
            Assert.Contains("layers.0.blocks.1.attn_mask", ex.Message, StringComparison.Ordinal);
            Assert.True(before.eq(model.state_dict()["head.weight"]).all().item<bool>());
            // Non-strict: everything else is copied, the buffer keeps the model's mask.
            var report = CheckpointLoader.LoadStateDict(model, file, strict: false, "tampered.pth");
            Assert.Equal(["layers.0.blocks.1.attn_mask"], report.ValueMismatches);
            Assert.Equal(-100f, model.state_dict()["layers.0.blocks.1.attn_mask"].min().item<float>());
        }
        finally
        {
            foreach (var t in file.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Distillation_outputs_and_input_checks()
    {
        using var model = Small();
        model.eval();
        using var noGrad = no_grad();
        using var x = torch.randn(3, 3, 56, 56);
        var outputs = model.ForwardForDistillation(x);
        Assert.Equal([3L, 10], outputs.Logits.shape);
        Assert.Equal([3L, 48], outputs.PooledFeatures.shape);
        Assert.Null(outputs.DistillationLogits);
        using var wrong = torch.randn(1, 3, 64, 64);
        var ex = Assert.Throws<ArgumentException>(() => model.forward(wrong));
        Assert.Contains("[B, 3, 56, 56]", ex.Message, StringComparison.Ordinal);
        model.to(float64);
        using var y = model.forward(x.to(float64));
        Assert.Equal(float64, y.dtype);
    }
}
