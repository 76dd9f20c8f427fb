using VkD.Generation.Models;
using VkD.Interop.Checkpoints;
using VkD.Tests.Distillation;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Generation;

/// <summary>BigGAN's layers, G and D against the PyTorch restatement of DiffAugment-BigGAN / KD-DLGAN
/// (tools/fixtures/make_generation_fixtures.py), ≤ 1e-5.</summary>
public sealed class BigGanModelTests
{
    private const double Tol = 1e-5;

    private static Dictionary<string, Tensor> Prefixed(Fixture f, string prefix) => Parity.StateWithPrefix(f, prefix);

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    public void Parameter_counts_at_ch_64_equal_the_reference_code(int classes)
    {
        using var f = Fixture.Load("generation", "param_counts");
        using var g = new BigGanGenerator(new BigGanConfig { NumClasses = classes });
        using var d = new BigGanDiscriminator(new BigGanConfig { NumClasses = classes });
        using var dh = new BigGanDiscriminator(new BigGanConfig { NumClasses = classes, FeatureHead = true });
        Assert.Equal(f[$"c{classes}.g_params"].item<long>(), BigGanInit.ParameterCount(g));
        Assert.Equal(f[$"c{classes}.d_params"].item<long>(), BigGanInit.ParameterCount(d));
        Assert.Equal(f[$"c{classes}.d_head_params"].item<long>(), BigGanInit.ParameterCount(dh));
        Assert.Equal(f[$"c{classes}.g_keys"].item<long>(), g.state_dict().Count);
        Assert.Equal(f[$"c{classes}.d_head_keys"].item<long>(), dh.state_dict().Count);
        if (classes == 10)
        {
            // The numbers: G ≈ 4.30 M, D ≈ 4.21 M (the head adds 256·1024 + 1024 + 1024·512 + 512).
            Assert.Equal(4_304_387, BigGanInit.ParameterCount(g));
            Assert.Equal(4_207_361, BigGanInit.ParameterCount(d));
            Assert.Equal(4_207_361 + 787_968, BigGanInit.ParameterCount(dh));
        }
    }

    [Fact]
    public void N02_init_draws_weights_with_std_0_02_and_keeps_batch_norm_gains_at_one()
    {
        random.manual_seed(3);
        using var g = new BigGanGenerator(new BigGanConfig { Ch = 16 });
        var state = g.state_dict();
        var conv = state["blocks.0.0.conv1.weight"];
        Assert.InRange(conv.std().item<float>(), 0.019, 0.021);
        Assert.InRange(state["blocks.1.0.bn2.gain.weight"].std().item<float>(), 0.015, 0.025);
        Assert.True(state["output_layer.0.gain"].eq(1).all().item<bool>());
        Assert.Equal([1L, 64], state["blocks.0.0.conv1.u0"].shape);
    }

    public static TheoryData<string, string> SpectralNormCases() => new()
    {
        { "conv", "biggan" },
        { "linear", "biggan" },
        { "embed", "biggan" },
        { "torch_conv", "pytorch" },
        { "torch_linear", "pytorch" },
    };

    private static SpectrallyNormalizedLayer SpectralLayer(string name) => name switch
    {
        "conv" => new SpectralConv2d(3, 5),
        "linear" => new SpectralLinear(6, 4),
        "embed" => new SpectralEmbedding(4, 7),
        "torch_conv" => new SpectralConv2d(3, 5, style: SpectralNormStyle.PyTorch, eps: 1e-12),
        "torch_linear" => new SpectralLinear(6, 4, style: SpectralNormStyle.PyTorch, eps: 1e-12),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(SpectralNormCases))]
    public void Spectral_norm_matches_PyTorch_forward_gradient_and_power_iteration_state(string name, string style)
    {
        using var f = Fixture.Load("generation", "spectral_norm");
        using var layer = SpectralLayer(name);
        CheckpointLoader.LoadStateDict(layer, Prefixed(f, $"{name}.init."));
        var x = f[name.Replace("torch_", "", StringComparison.Ordinal) + ".x"];
        var uKey = style == "biggan" ? "u0" : "weight_u";
        layer.train();
        for (var step = 0; step < 2; step++)
        {
            using var scope = NewDisposeScope();
            layer.zero_grad();
            var input = name == "embed" ? x : x.clone().requires_grad_(true);
            var y = layer.call(input);
            (y * f[$"{name}.train{step}.upstream"]).sum().backward();
            Parity.Close(y, f[$"{name}.train{step}.y"], Tol, $"{name} training forward {step}");
            Parity.Close(layer.RawWeight.grad!, f[$"{name}.train{step}.grad_weight"], Tol, $"{name} d/dW {step}");
            Parity.Close(layer.get_buffer(uKey)!, f[$"{name}.train{step}.{uKey}"], Tol, $"{name} {uKey} after step {step}");
            if (style == "biggan")
            {
                Parity.Close(layer.get_buffer("sv0")!, f[$"{name}.train{step}.sv0"], Tol, $"{name} sv0 after step {step}");
            }
            else
            {
                Parity.Close(layer.get_buffer("weight_v")!, f[$"{name}.train{step}.weight_v"], Tol, $"{name} weight_v after step {step}");
            }
        }
        layer.eval();
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var before = layer.get_buffer(uKey)!.clone();
            Parity.Close(layer.call(x), f[$"{name}.eval.y"], Tol, $"{name} eval forward");
            Assert.True(layer.get_buffer(uKey)!.eq(before).all().item<bool>(), "an eval forward must not update the singular vector");
            Parity.Close(layer.get_buffer(uKey)!, f[$"{name}.eval.{uKey}"], Tol, $"{name} {uKey} after eval");
        }
    }

    [Theory]
    [InlineData(SpectralNormStyle.BigGan, new[] { "weight", "bias", "u0", "sv0" })]
    [InlineData(SpectralNormStyle.PyTorch, new[] { "bias", "weight_orig", "weight_u", "weight_v" })]
    public void Spectral_norm_styles_have_the_reference_key_layouts(SpectralNormStyle style, string[] keys)
    {
        using var layer = new SpectralLinear(6, 4, style: style);
        Assert.Equal(keys, layer.state_dict().Keys);
    }

    [Fact]
    public void Class_conditional_batch_norm_matches_ccbn_in_training_and_eval()
    {
        using var f = Fixture.Load("generation", "ccbn");
        using var bn = new ClassConditionalBatchNorm(5, 3);
        CheckpointLoader.LoadStateDict(bn, Prefixed(f, "init."));
        using var scope = NewDisposeScope();
        bn.train();
        var x = f["x"].clone().requires_grad_(true);
        var y = bn.call(x, f["y"]);
        (y * f["train.upstream"]).sum().backward();
        Parity.Close(y, f["train.y"], Tol, "ccbn training output");
        Parity.Close(x.grad!, f["train.grad_x"], Tol, "ccbn d/dx");
        Parity.Close(bn.GainTable.grad!, f["train.grad_gain"], Tol, "ccbn d/dgain");
        Parity.Close(bn.BiasTable.grad!, f["train.grad_bias"], Tol, "ccbn d/dbias");
        Parity.Close(bn.get_buffer("stored_mean")!, f["train.stored_mean"], Tol, "stored_mean");
        Parity.Close(bn.get_buffer("stored_var")!, f["train.stored_var"], Tol, "stored_var (unbiased)");
        bn.eval();
        using (no_grad())
        {
            Parity.Close(bn.call(f["x"], f["y"]), f["eval.y"], Tol, "ccbn eval output");
        }

        using var plain = new BigGanBatchNorm(5);
        CheckpointLoader.LoadStateDict(plain, Prefixed(f, "plain.init."));
        plain.train();
        using (no_grad())
        {
            Parity.Close(plain.call(f["x"]), f["plain.train.y"], Tol, "bn training output");
            Parity.Close(plain.get_buffer("stored_var")!, f["plain.train.stored_var"], Tol, "bn stored_var");
            plain.eval();
            Parity.Close(plain.call(f["x"]), f["plain.eval.y"], Tol, "bn eval output");
        }
    }

    private static readonly BigGanConfig Small = new() { Ch = 2, DimZ = 12, NumClasses = 3 };

    [Fact]
    public void Generator_forward_backward_and_state_updates_match_the_reference_from_one_state_dict()
    {
        using var f = Fixture.Load("generation", "generator");
        using var g = new BigGanGenerator(Small);
        CheckpointLoader.LoadStateDict(g, Prefixed(f, "init."));
        using var scope = NewDisposeScope();
        g.train();
        var img = g.call(f["z"], f["y"]);
        (img * f["train.upstream"]).sum().backward();
        Parity.Close(img, f["train.img"], Tol, "G training forward");
        var parameters = g.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var key in f.Keys.Where(k => k.StartsWith("train.grad.", StringComparison.Ordinal)))
        {
            Parity.Close(parameters[key["train.grad.".Length..]].grad!, f[key], Tol, key);
        }
        var after = Prefixed(f, "after.");
        foreach (var (key, value) in g.state_dict())
        {
            Parity.Close(value, after[key], Tol, $"state {key} after the training forward");
        }
        g.eval();
        using (no_grad())
        {
            Parity.Close(g.call(f["z"], f["y"]), f["eval.img"], Tol, "G eval forward");
        }
    }

    [Fact]
    public void Discriminator_scores_feature_head_gradients_and_state_match_the_reference_from_one_state_dict()
    {
        using var f = Fixture.Load("generation", "discriminator");
        using var d = new BigGanDiscriminator(Small with { FeatureHead = true, FeatureHidden = 24, FeatureDim = 16 });
        CheckpointLoader.LoadStateDict(d, Prefixed(f, "init."));
        Assert.Equal(Prefixed(f, "init.").Keys.Order(), d.state_dict().Keys.Order());
        using var scope = NewDisposeScope();
        d.train();
        var x = f["x"].clone().requires_grad_(true);
        using var outputs = d.Forward(x, f["y"]);
        var scores = outputs.Scores;
        var loss = nn.functional.relu(1 - scores[2..]).mean() + nn.functional.relu(1 + scores[..2]).mean() + outputs.Features!.pow(2).mean();
        loss.backward();
        Parity.Close(scores, f["train.score"], Tol, "D training scores");
        Parity.Close(outputs.Features!, f["train.features"], Tol, "D feature head");
        Parity.Close(x.grad!, f["train.grad_x"], Tol, "D d/dx");
        var parameters = d.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var key in f.Keys.Where(k => k.StartsWith("train.grad.", StringComparison.Ordinal)))
        {
            Parity.Close(parameters[key["train.grad.".Length..]].grad!, f[key], Tol, key);
        }
        var after = Prefixed(f, "after.");
        foreach (var (key, value) in d.state_dict())
        {
            Parity.Close(value, after[key], Tol, $"state {key} after the training forward");
        }
        d.eval();
        using (no_grad())
        {
            using var eval = d.Forward(f["x"], f["y"]);
            Parity.Close(eval.Scores, f["eval.score"], Tol, "D eval scores");
            Parity.Close(eval.Features!, f["eval.features"], Tol, "D eval features");
            Parity.Close(d.call(f["x"], f["y"]), f["eval.score"], Tol, "D call");
        }
    }

    [Fact]
    public void Wrong_input_shapes_are_refused_naming_the_shapes()
    {
        using var g = new BigGanGenerator(Small);
        using var d = new BigGanDiscriminator(Small);
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => g.call(zeros(2, 11), zeros(2, ScalarType.Int64)));
        Assert.Contains("[2, 11]", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => d.call(zeros(2, 3, 28, 28), zeros(2, ScalarType.Int64)));
        Assert.Contains("[2, 3, 28, 28]", e2.Message);
        Assert.Throws<ArgumentException>(() => new BigGanGenerator(Small with { Ch = 0 }));
    }
}
