using TorchSharp;
using TorchSharp.Modules;
using VkD.Detection.Models;
using VkD.Interop.Checkpoints;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Models.VidtTestSupport;

namespace VkD.Tests.Detection.Models;

/// <summary>The whole ViDT detector (neck, deformable decoder with box refinement, heads) against its PyTorch
/// restatement (tools/fixtures/make_vidt_fixtures.py, checked there against naver-ai/vidt's detector.py).</summary>
public sealed class VidtDetectorTests(ITestOutputHelper output)
{
    /// <summary>The fixture's reduced detector: width-4 Swin-RAM, neck and decoder at 32, 2 layers, 5 classes.</summary>
    private static VidtConfig Reduced => new(VidtSwinRamTests.Reduced, NumClasses: 5, HiddenDim: 32, NHeads: 4, DecLayers: 2,
        DimFeedforward: 64, DecNPoints: 2);

    private static readonly StateDictOptions VidtCheckpoint = new() { ExcludePrefixes = VidtDetector.CheckpointExcludePrefixes };

    [Fact]
    public void Full_nano_detector_has_vidts_keys_shapes_and_parameter_count()
    {
        using var model = new VidtDetector(VidtConfig.Nano);
        var expected = Layout("vidt_nano");
        var alias = VidtDetector.CheckpointExcludePrefixes[0];
        // ViDT's alias entries mirror bbox_embed.* exactly.
        var byKey = expected.ToDictionary(e => e.Key, e => e.Shape);
        foreach (var (key, shape) in expected.Where(e => e.Key.StartsWith(alias, StringComparison.Ordinal)))
        {
            Assert.Equal(shape, byKey["bbox_embed." + key[alias.Length..]]);
        }
        var wanted = expected.Where(e => !e.Key.StartsWith(alias, StringComparison.Ordinal)).ToList();
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(wanted.Select(e => e.Key).Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, shape) in wanted)
        {
            Assert.True(shape.SequenceEqual(actual[key]), key);
        }
        Assert.Equal(wanted.Select(e => e.Key).Where(k => !k.EndsWith("relative_position_index", StringComparison.Ordinal)),
            model.named_parameters().Select(p => p.name));
        Assert.Equal(15_728_677L, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Reduced_detector_matches_pytorch_from_a_vidt_state_dict()
    {
        using var f = Fixture.Load(Part, "vidt_small");
        using var model = LoadWeights(new VidtDetector(Reduced), "vidt_small_weights.pth", VidtCheckpoint);
        using var noGrad = no_grad();
        using var outputs = model.forward(f["input"].to(float32), f["mask"]);
        var errors = new List<string>();
        for (var l = 0; l < 4; l++)
        {
            errors.Add($"src{l} {AssertClose(f[$"src{l}"], outputs.PatchTokens[l], 1e-4, $"src{l}"):g3}");
        }
        errors.Add($"body_det_token {AssertClose(f["body_det_token"], outputs.BodyDetToken, 1e-4, "body"):g3}");
        errors.Add($"hs {AssertClose(f["hs"], outputs.NeckDetToken, 1e-4, "hs"):g3}");
        errors.Add($"init_reference {AssertClose(f["init_reference"], outputs.InitReference, 1e-5, "init_reference"):g3}");
        errors.Add($"inter_references {AssertClose(f["inter_references"], outputs.InterReferences, 1e-4, "inter_references"):g3}");
        errors.Add($"logits {AssertClose(f["logits"], outputs.Logits, 1e-4, "logits"):g3}");
        errors.Add($"boxes {AssertClose(f["boxes"], outputs.Boxes, 1e-4, "boxes"):g3}");
        AssertClose(f["logits"][-1], outputs.PredLogits, 1e-4, "pred_logits");
        output.WriteLine("ViDT max abs diff: " + string.Join("; ", errors));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void Initialisation_is_vidts()
    {
        using var model = new VidtDetector(VidtConfig.Nano with { DecLayers = 2 });
        var p = model.state_dict();
        var prior = -Math.Log(99);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(p[$"class_embed.{i}.bias"].allclose(torch.full(91, prior)), $"class_embed.{i}.bias");
            Assert.True(Same(p[$"class_embed.{i}.weight"], p["class_embed.0.weight"]), "clones start equal");
            Assert.True(Same(p[$"bbox_embed.{i}.layers.0.weight"], p["bbox_embed.0.layers.0.weight"]), "clones start equal");
            Assert.Equal(0f, p[$"bbox_embed.{i}.layers.2.weight"].abs().max().item<float>());
            var bias = p[$"bbox_embed.{i}.layers.2.bias"].data<float>().ToArray();
            Assert.Equal(i == 0 ? new[] { 0f, 0f, -2f, -2f } : [0f, 0f, 0f, 0f], bias);
        }
        foreach (var prefix in new[] { "input_proj.0", "input_proj.3", "tgt_proj", "query_pos_proj" })
        {
            Assert.True(Same(p[prefix + ".1.weight"], torch.ones(256)), prefix + " GroupNorm weight");
            Assert.True(Same(p[prefix + ".1.bias"], torch.zeros(256)), prefix + " GroupNorm bias");
            Assert.Equal(0f, p[prefix + ".0.bias"].abs().max().item<float>());
            var w = p[prefix + ".0.weight"];
            var bound = Math.Sqrt(6.0 / (w.shape[0] + w.shape[1]));
            Assert.True(w.abs().max().item<float>() <= bound + 1e-6, prefix + " xavier bound");
        }
        // The decoder: xavier everywhere, then the deformable attention's own reset, then normal_(level_embed).
        using var grid = MultiScaleDeformableAttention.OffsetGrid(8, 4, 4);
        Assert.True(Same(p["transformer.decoder.layers.1.cross_attn.sampling_offsets.bias"], grid));
        Assert.Equal(0f, p["transformer.decoder.layers.1.cross_attn.sampling_offsets.weight"].abs().max().item<float>());
        Assert.Equal(0f, p["transformer.decoder.layers.1.cross_attn.attention_weights.weight"].abs().max().item<float>());
        var linear1 = p["transformer.decoder.layers.0.linear1.weight"];
        Assert.True(linear1.abs().max().item<float>() <= Math.Sqrt(6.0 / (1024 + 256)) + 1e-6, "xavier on linear1");
        Assert.InRange(p["transformer.level_embed"].std().item<float>(), 0.85f, 1.15f);
        var inProj = p["transformer.decoder.layers.0.self_attn.in_proj_weight"];
        Assert.True(inProj.abs().max().item<float>() <= Math.Sqrt(6.0 / (768 + 256)) + 1e-6, "in_proj xavier");
    }

    [Fact]
    public void Training_step_reaches_every_part()
    {
        using var model = new VidtDetector(Reduced);
        model.train();
        using var scope = NewDisposeScope();
        var x = torch.randn(2, 3, 64, 64);
        var mask = torch.zeros(2, 64, 64, ScalarType.Bool);
        mask[1, .., 48..] = true;
        using var outputs = model.forward(x, mask);
        var loss = outputs.Logits.sigmoid().mean() + outputs.Boxes.mean() + outputs.NeckDetToken.pow(2).mean();
        foreach (var t in outputs.PatchTokens)
        {
            loss = loss + t.pow(2).mean();
        }
        loss.backward();
        var named = model.named_parameters().ToDictionary(t => t.name, t => t.parameter);
        foreach (var key in new[] { "backbone.patch_embed.proj.weight", "backbone.det_token", "backbone.layers.3.blocks.1.det_pos_linear.weight",
                     "input_proj.2.0.weight", "tgt_proj.1.weight", "transformer.decoder.layers.1.cross_attn.value_proj.weight",
                     "transformer.reference_points.weight", "class_embed.2.weight", "bbox_embed.1.layers.2.weight" })
        {
            var g = named[key].grad;
            Assert.True(g is not null && g.abs().sum().item<float>() > 0, key + " has no gradient");
        }
        // level_embed is never used, and the unused merge parameters (expansion, norm2) get no gradient, as in ViDT.
        Assert.Null(named["transformer.level_embed"].grad);
        Assert.Null(named["backbone.layers.0.downsample.expansion.weight"].grad);
    }

    [Fact]
    public void Inverse_sigmoid_clamps_like_vidt()
    {
        using var x = torch.tensor(new[] { -0.5f, 0f, 0.25f, 0.5f, 1f, 2f });
        using var y = VidtDetector.InverseSigmoid(x);
        var v = y.data<float>().ToArray();
        Assert.Equal(Math.Log(1e-5), v[0], 4);
        Assert.Equal(Math.Log(1e-5), v[1], 4);
        Assert.Equal(Math.Log(1.0 / 3), v[2], 5);
        Assert.Equal(0.0, v[3], 6);
        Assert.Equal(-Math.Log(1e-5), v[4], 4);
        Assert.Equal(-Math.Log(1e-5), v[5], 4);
    }

    [Fact]
    public void Configurations_that_vidt_cannot_build_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new VidtDetector(Reduced with { HiddenDim = 48 }));
        Assert.Throws<ArgumentException>(() => new VidtDetector(Reduced with { Backbone = Reduced.Backbone with { PosDim = 64 } }));
    }
}
