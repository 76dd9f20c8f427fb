using TorchSharp;
using VkD.Detection.Models;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Models.VidtTestSupport;

namespace VkD.Tests.Detection.Models;

/// <summary>Multi-scale deformable attention against ViDT's PyTorch (ms_deform_attn_core_pytorch + MSDeformAttn).</summary>
public sealed class VidtDeformableAttentionTests(ITestOutputHelper output)
{
    [Fact]
    public void Core_matches_vidt_ms_deform_attn_core_pytorch()
    {
        using var f = Fixture.Load(Part, "deform_core");
        using var scope = NewDisposeScope();
        var actual = MultiScaleDeformableAttention.Core(f["value"], Shapes(f["shapes"]), f["locations"], f["weights"]);
        var err = AssertClose(f["output"], actual, 1e-5, "core");
        output.WriteLine($"core max abs diff {err:g3}");
    }

    [Fact]
    public void Core_equals_a_direct_per_point_bilinear_sum()
    {
        using var f = Fixture.Load(Part, "deform_core");
        using var scope = NewDisposeScope();
        var shapes = Shapes(f["shapes"]);
        var actual = MultiScaleDeformableAttention.Core(f["value"], shapes, f["locations"], f["weights"]);
        var expected = DirectBilinear(f["value"], shapes, f["locations"], f["weights"]);
        var err = AssertClose(expected, actual, 1e-5, "direct");
        output.WriteLine($"core vs direct bilinear max abs diff {err:g3}");
    }

    /// <summary>The CUDA kernel's rule, point by point in double: h = y·H − 0.5, w = x·W − 0.5, the four neighbours
    /// weighted bilinearly, neighbours outside the map count as zero.</summary>
    private static Tensor DirectBilinear(Tensor value, (long Height, long Width)[] shapes, Tensor locations, Tensor weights)
    {
        var n = (int)value.shape[0];
        var s = (int)value.shape[1];
        var m = (int)value.shape[2];
        var d = (int)value.shape[3];
        var lq = (int)locations.shape[1];
        var levels = shapes.Length;
        var points = (int)locations.shape[4];
        var v = value.to(float64).contiguous().data<double>().ToArray();
        var loc = locations.to(float64).contiguous().data<double>().ToArray();
        var w = weights.to(float64).contiguous().data<double>().ToArray();
        var result = new double[n * lq * m * d];
        var starts = new int[levels];
        for (var l = 1; l < levels; l++)
        {
            starts[l] = starts[l - 1] + (int)(shapes[l - 1].Height * shapes[l - 1].Width);
        }
        for (var b = 0; b < n; b++)
        {
            for (var q = 0; q < lq; q++)
            {
                for (var head = 0; head < m; head++)
                {
                    for (var l = 0; l < levels; l++)
                    {
                        var (hl, wl) = ((int)shapes[l].Height, (int)shapes[l].Width);
                        for (var p = 0; p < points; p++)
                        {
                            var li = ((((b * lq + q) * m + head) * levels + l) * points + p) * 2;
                            var x = loc[li] * wl - 0.5;
                            var y = loc[li + 1] * hl - 0.5;
                            var a = w[li / 2];
                            var x0 = (int)Math.Floor(x);
                            var y0 = (int)Math.Floor(y);
                            for (var dy = 0; dy <= 1; dy++)
                            {
                                for (var dx = 0; dx <= 1; dx++)
                                {
                                    var yy = y0 + dy;
                                    var xx = x0 + dx;
                                    if (yy < 0 || yy >= hl || xx < 0 || xx >= wl)
                                    {
                                        continue;
                                    }
                                    var bw = (dy == 1 ? y - y0 : 1 - (y - y0)) * (dx == 1 ? x - x0 : 1 - (x - x0));
                                    var row = starts[l] + yy * wl + xx;
                                    for (var c = 0; c < d; c++)
                                    {
                                        result[((b * lq + q) * m + head) * d + c] += a * bw * v[((b * s + row) * m + head) * d + c];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return torch.tensor(result, [n, lq, m * d], dtype: float64).to(float32);
    }

    [Fact]
    public void Module_matches_vidt_msdeformattn_with_2d_and_4d_reference_points_and_padding()
    {
        using var f = Fixture.Load(Part, "deform_attn");
        using var attn = LoadWeights(new MultiScaleDeformableAttention(24, 4, 3, 2), "deform_attn_weights.pth");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var shapes = Shapes(f["shapes"]);
        var e2 = AssertClose(f["out2"], attn.forward(f["query"], f["ref2"], f["src"], shapes, f["mask"]), 1e-4, "2-d reference");
        var e4 = AssertClose(f["out4"], attn.forward(f["query"], f["ref4"], f["src"], shapes, f["mask"]), 1e-4, "4-d reference");
        var e0 = AssertClose(f["out_nomask"], attn.forward(f["query"], f["ref2"], f["src"], shapes), 1e-4, "no mask");
        output.WriteLine($"MSDeformAttn max abs diff: 2-d {e2:g3}, 4-d {e4:g3}, unmasked {e0:g3}");
    }

    [Fact]
    public void Padded_positions_do_not_contribute()
    {
        using var f = Fixture.Load(Part, "deform_attn");
        using var attn = LoadWeights(new MultiScaleDeformableAttention(24, 4, 3, 2), "deform_attn_weights.pth");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var shapes = Shapes(f["shapes"]);
        var mask = f["mask"];
        var changed = f["src"].masked_fill(mask.unsqueeze(-1), 1e3);
        var a = attn.forward(f["query"], f["ref2"], f["src"], shapes, mask);
        var b = attn.forward(f["query"], f["ref2"], changed, shapes, mask);
        Assert.Equal(0.0, (a - b).abs().max().item<float>());
    }

    [Fact]
    public void Initialisation_is_vidts()
    {
        using var f = Fixture.Load(Part, "deform_attn_init");
        using var attn = new MultiScaleDeformableAttention();
        var p = attn.named_parameters().ToDictionary(t => t.name, t => t.parameter);
        Assert.Equal(
            ["sampling_offsets.weight", "sampling_offsets.bias", "attention_weights.weight", "attention_weights.bias",
             "value_proj.weight", "value_proj.bias", "output_proj.weight", "output_proj.bias"],
            p.Keys);
        AssertClose(f["sampling_offsets_bias"], p["sampling_offsets.bias"], 1e-6, "offset grid");
        Assert.Equal(0.0, p["sampling_offsets.weight"].abs().max().item<float>());
        Assert.Equal(0.0, p["attention_weights.weight"].abs().max().item<float>());
        Assert.Equal(0.0, p["attention_weights.bias"].abs().max().item<float>());
        Assert.Equal(0.0, p["value_proj.bias"].abs().max().item<float>());
        Assert.Equal(0.0, p["output_proj.bias"].abs().max().item<float>());
        // xavier_uniform on 256x256: U(-a, a) with a = sqrt(6 / 512); variance a^2 / 3.
        var bound = Math.Sqrt(6.0 / 512);
        foreach (var key in new[] { "value_proj.weight", "output_proj.weight" })
        {
            var w = p[key];
            Assert.True(w.abs().max().item<float>() <= bound + 1e-7, key);
            var std = w.std().item<float>();
            Assert.InRange(std, bound / Math.Sqrt(3) * 0.97, bound / Math.Sqrt(3) * 1.03);
        }
        // Uniform attention at initialisation: every weight 1 / (levels · points).
        using var q = torch.randn(1, 3, 256);
        using var r = torch.rand(1, 3, 4, 2);
        var (_, weights) = attn.SamplingLocations(q, r, [(8, 8), (4, 4), (2, 2), (1, 1)]);
        Assert.True(weights.allclose(torch.full_like(weights, 1.0 / 16)));
    }

    [Fact]
    public void Bad_shapes_are_refused_with_a_clear_message()
    {
        using var attn = new MultiScaleDeformableAttention(16, 2, 2, 2);
        using var q = torch.zeros(1, 3, 16);
        using var src = torch.zeros(1, 20, 16);
        var ex = Assert.Throws<ArgumentException>(() => attn.forward(q, torch.zeros(1, 3, 2, 3), src, [(4, 4), (2, 2)]));
        Assert.Contains("reference_points", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => attn.forward(q, torch.zeros(1, 3, 2, 2), src, [(4, 4), (2, 3)]));
        Assert.Contains("cover 22 positions", ex.Message);
        Assert.Throws<ArgumentException>(() => new MultiScaleDeformableAttention(10, 4, 3, 4));
    }
}
