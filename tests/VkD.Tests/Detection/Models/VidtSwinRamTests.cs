using TorchSharp;
using VkD.Interop.Checkpoints;
using VkD.Models.Swin;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Models.VidtTestSupport;

namespace VkD.Tests.Detection.Models;

/// <summary>ViDT's Swin Transformer with RAM against its PyTorch restatement (tools/fixtures/make_vidt_fixtures.py,
/// checked there against naver-ai/vidt methods/swin_w_ram.py).</summary>
public sealed class VidtSwinRamTests(ITestOutputHelper output)
{
    /// <summary>The reduced model of the fixture: every path of the full one at a few hundred KB.</summary>
    internal static SwinRamConfig Reduced => new(4, [2, 1, 1, 2], [1, 2, 2, 4], WindowSize: 5, MlpRatio: 2.0,
        DetTokenNum: 4, PosDim: 32, NeckDim: 32);

    [Theory]
    [InlineData("nano", 8_105_866L)]
    [InlineData("tiny", 30_069_754L)]
    [InlineData("small", 52_571_914L)]
    [InlineData("base", 91_886_264L)]
    public void Full_size_variants_have_vidts_keys_shapes_and_parameter_count(string variant, long parameters)
    {
        using var model = new SwinTransformerRam(SwinRamConfig.Variant(variant));
        var expected = Layout("swin_" + variant);
        var actual = model.state_dict().Select(kv => (kv.Key, kv.Value.shape)).ToList();
        var missing = expected.Select(e => e.Key).Except(actual.Select(a => a.Key)).ToList();
        var extra = actual.Select(a => a.Key).Except(expected.Select(e => e.Key)).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"missing: {string.Join(", ", missing.Take(10))}; unexpected: {string.Join(", ", extra.Take(10))}");
        var shapes = actual.ToDictionary(a => a.Key, a => a.shape);
        foreach (var (key, shape) in expected)
        {
            Assert.True(shape.SequenceEqual(shapes[key]), $"{key}: expected [{string.Join(", ", shape)}], got [{string.Join(", ", shapes[key])}]");
        }
        // The parameters come in PyTorch's order (the buffers, relative_position_index, are listed after them here).
        var paramKeys = model.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(expected.Select(e => e.Key).Where(k => !k.EndsWith("relative_position_index", StringComparison.Ordinal)), paramKeys);
        Assert.Equal(parameters, model.parameters().Sum(p => p.numel()));
        Assert.Equal(parameters, expected.Where(e => !e.Key.EndsWith("relative_position_index", StringComparison.Ordinal))
            .Sum(e => e.Shape.Aggregate(1L, (a, b) => a * b)));
    }

    [Fact]
    public void Reduced_model_matches_pytorch_from_one_state_dict()
    {
        using var f = Fixture.Load(Part, "vidt_small");
        using var model = LoadWeights(new SwinTransformerRam(Reduced), "vidt_small_weights.pth", new StateDictOptions { SelectPrefix = "backbone." });
        using var noGrad = no_grad();
        using var features = model.ForwardFeatures(f["input"].to(float32), f["mask"]);
        Assert.Equal(4, features.PatchOutputs.Count);
        var errors = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var e = AssertClose(f[$"patch_out{i}"], features.PatchOutputs[i], 1e-4, $"patch_out{i}");
            errors.Add($"patch_out{i} [{string.Join(", ", features.PatchOutputs[i].shape)}] {e:g3}");
        }
        errors.Add($"det_tgt {AssertClose(f["det_tgt"], features.DetTgt, 1e-4, "det_tgt"):g3}");
        errors.Add($"det_pos {AssertClose(f["det_pos"], features.DetPos, 0, "det_pos"):g3}");
        output.WriteLine("Swin-RAM max abs diff: " + string.Join("; ", errors));
    }

    [Fact]
    public void Masked_sine_position_encoding_matches_vidt()
    {
        using var f = Fixture.Load(Part, "vidt_small");
        using var pos = SinePositionEncoding.Masked(f["pos_mask"], 12);
        var e = AssertClose(f["pos"], pos, 1e-5, "pos");
        output.WriteLine($"masked_sin_pos_encoding max abs diff {e:g3}");
    }

    [Fact]
    public void Shift_mask_separates_the_wrapped_regions()
    {
        // 7x7 map, window 7, shift 3: one window, 3x3 regions of sizes 4 and 3 (rows/cols 0-3 | 4-6, region 0 empty).
        using var m = SwinRamStage.ShiftMask(7, 7, 7);
        Assert.Equal([1L, 49, 49], m.shape);
        Assert.Equal(0f, m[0, 0, 3].item<float>());     // (0,0) and (0,3): same region
        Assert.Equal(-100f, m[0, 0, 4].item<float>());  // (0,0) and (0,4): columns 0-3 vs 4-6
        Assert.Equal(-100f, m[0, 0, 28].item<float>()); // (0,0) and (4,0)
        Assert.Equal(0f, m[0, 48, 32].item<float>());   // (6,6) and (4,4)
        // 14x14: four windows; only the last row/column of windows straddles regions.
        using var m2 = SwinRamStage.ShiftMask(10, 12, 7);
        Assert.Equal([4L, 49, 49], m2.shape);
        Assert.Equal(0f, m2[0].abs().max().item<float>());
        Assert.True(m2[3].min().item<float>() < 0);
    }

    [Fact]
    public void Variants_follow_vidt_and_drop_path_ramps_over_all_blocks()
    {
        Assert.Equal(SwinRamConfig.Base, SwinRamConfig.Variant("swin_base_win7"));
        Assert.Equal(48, SwinRamConfig.Variant("swin_nano").EmbedDim);
        Assert.Throws<ArgumentException>(() => SwinRamConfig.Variant("huge"));
        using var model = new SwinTransformerRam(SwinRamConfig.Tiny with { DetTokenNum = 2 });
        var rates = model.Stages.SelectMany(s => s.Blocks).Select(b => b.DropPathRate).ToArray();
        Assert.Equal(12, rates.Length);
        Assert.Equal(0.0, rates[0]);
        Assert.Equal(0.2, rates[^1], 12);
        Assert.Equal(0.2 * 5 / 11, rates[5], 12);
        Assert.Equal([192, 384, 768, 256], model.NumChannels);
        Assert.Equal(768, model.NumFeatures);
        Assert.Equal([0, 3, 0, 3], model.Stages[1].Blocks.Concat(model.Stages[3].Blocks).Select(b => b.ShiftSize));
    }

    [Fact]
    public void Output_shapes_and_strides_follow_vidt()
    {
        using var model = new SwinTransformerRam(Reduced with { WindowSize = 7 });
        model.eval();
        using var noGrad = no_grad();
        using var x = torch.randn(1, 3, 64, 96);
        using var features = model.ForwardFeatures(x);
        Assert.Equal([1L, 8, 8, 12], features.PatchOutputs[0].shape);   // stride 8, 2C
        Assert.Equal([1L, 16, 4, 6], features.PatchOutputs[1].shape);   // stride 16, 4C
        Assert.Equal([1L, 32, 2, 3], features.PatchOutputs[2].shape);   // stride 32, 8C
        Assert.Equal([1L, 32, 1, 2], features.PatchOutputs[3].shape);   // stride 64, neck width
        Assert.Equal([1L, 32, 4], features.DetTgt.shape);
        Assert.Equal([1L, 32, 4], features.DetPos.shape);
    }

    [Fact]
    public void Bad_inputs_are_refused_with_a_clear_message()
    {
        using var model = new SwinTransformerRam(Reduced);
        var ex = Assert.Throws<ArgumentException>(() => model.ForwardFeatures(torch.zeros(1, 3, 16, 64)));
        Assert.Contains("at least 32x32", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => model.ForwardFeatures(torch.zeros(1, 3, 64, 64), torch.zeros(1, 32, 64, ScalarType.Bool)));
        Assert.Contains("mask", ex.Message);
        Assert.Throws<ArgumentException>(() => new SwinTransformerRam(Reduced with { NumHeads = [1, 2, 5, 4] }));
    }
}
