using TorchSharp;
using TorchSharp.Modules;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Tests.Training;

public sealed class OptimTests
{
    [Fact]
    public void Cosine_schedule_follows_timm_with_warmup_and_floor()
    {
        var s = new CosineLrScheduler(baseLr: 1e-3, tInitial: 100, lrMin: 1e-5, warmupT: 10, warmupLrInit: 1e-6);
        Assert.Equal(1e-6, s.LearningRate(0), 15);
        Assert.Equal(1e-6 + 5 * (1e-3 - 1e-6) / 10, s.LearningRate(5), 15);
        // Not a warmup prefix: after warmup the cosine is evaluated at the absolute t, as timm's default.
        Assert.Equal(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.Cos(Math.PI * 10 / 100)), s.LearningRate(10), 15);
        Assert.Equal(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.Cos(Math.PI * 73 / 100)), s.LearningRate(73), 15);
        Assert.Equal(1e-5, s.LearningRate(100), 15);
        Assert.Equal(1e-5, s.LearningRate(1000), 15);
    }

    [Fact]
    public void Cosine_from_epochs_uses_iterations_like_the_reference()
    {
        var s = CosineLrScheduler.FromEpochs(5e-4, 5e-6, epochs: 3, warmupEpochs: 0.5, warmupLr: 5e-6, itersPerEpoch: 10);
        Assert.Equal(30, s.TInitial);
        Assert.Equal(5, s.WarmupT);
        Assert.Equal(5e-4, new CosineLrScheduler(5e-4, 30, 5e-6).LearningRate(0), 15);
    }

    [Fact]
    public void Ema_momentum_rises_linearly_to_one()
    {
        var m = new EmaMomentumSchedule(0.996, 1000);
        Assert.Equal(0.996, m.Momentum(0), 12);
        Assert.Equal(0.996 + 500 * 0.004 / 1000, m.Momentum(500), 12);
        Assert.Equal(1.0, m.Momentum(1000), 12);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Momentum_sgd_matches_torch_SGD_step_for_step_and_its_state_round_trips(bool nesterov)
    {
        random.manual_seed(4);
        using var w1 = new Parameter(randn(5, 4));
        using var b1 = new Parameter(randn(4));
        using var w2 = new Parameter(w1.detach().clone());
        using var b2 = new Parameter(b1.detach().clone());
        using var ours = new VkD.Training.Optim.MomentumSgd([new ParameterGroup("decay", [w1], ["w"], 0.05), new ParameterGroup("no_decay", [b1], ["b"], 0.0)],
            lr: 1e-2, momentum: 0.9, nesterov: nesterov);
        var referenceW = optim.SGD([w2], 1e-2, momentum: 0.9, weight_decay: 0.05, nesterov: nesterov);
        var referenceB = optim.SGD([b2], 1e-2, momentum: 0.9, weight_decay: 0.0, nesterov: nesterov);
        for (var step = 0; step < 5; step++)
        {
            using var x = randn(3, 5);
            ours.ZeroGrad();
            referenceW.zero_grad();
            referenceB.zero_grad();
            (x.matmul(w1) + b1).pow(2).sum().backward();
            (x.matmul(w2) + b2).pow(2).sum().backward();
            ours.Step();
            referenceW.step();
            referenceB.step();
        }
        Assert.True(w1.allclose(w2, rtol: 1e-6, atol: 1e-7), "weights diverged from torch.optim.SGD");
        Assert.True(b1.allclose(b2, rtol: 1e-6, atol: 1e-7), "biases diverged from torch.optim.SGD");

        // The PyTorch-layout state restores into a fresh optimiser, which then takes the identical next step.
        using var w3 = new Parameter(w1.detach().clone());
        using var b3 = new Parameter(b1.detach().clone());
        using var restored = new VkD.Training.Optim.MomentumSgd([new ParameterGroup("decay", [w3], ["w"], 0.05), new ParameterGroup("no_decay", [b3], ["b"], 0.0)],
            lr: 0, momentum: 0.9, nesterov: nesterov);
        var state = ours.StateDict();
        restored.LoadStateDict(state);
        VkD.Training.Optim.ITrainingOptimizer.DisposeStateDict(state);
        Assert.Equal(1e-2, restored.LearningRate);
        using var x2 = randn(3, 5);
        ours.ZeroGrad();
        restored.ZeroGrad();
        (x2.matmul(w1) + b1).pow(2).sum().backward();
        (x2.matmul(w3) + b3).pow(2).sum().backward();
        ours.Step();
        restored.Step();
        Assert.True(w1.eq(w3).all().item<bool>() && b1.eq(b3).all().item<bool>(), "a restored SGD took a different step");
        var adamState = new AdamWOptimizer([new ParameterGroup("decay", [w3], ["w"], 0.05), new ParameterGroup("no_decay", [b3], ["b"], 0.0)], lr: 1e-2).StateDict();
        var e = Assert.Throws<InvalidDataException>(() => restored.LoadStateDict(adamState));
        Assert.Contains("--opt", e.Message);
    }

    [Fact]
    public void AdamW_matches_torch_AdamW_step_for_step()
    {
        random.manual_seed(3);
        using var w1 = new Parameter(randn(5, 4));
        using var b1 = new Parameter(randn(4));
        using var w2 = new Parameter(w1.detach().clone());
        using var b2 = new Parameter(b1.detach().clone());
        var ours = new AdamWOptimizer([new ParameterGroup("decay", [w1], ["w"], 0.05), new ParameterGroup("no_decay", [b1], ["b"], 0.0)], lr: 1e-2);
        var referenceW = optim.AdamW([w2], lr: 1e-2, weight_decay: 0.05);
        var referenceB = optim.AdamW([b2], lr: 1e-2, weight_decay: 0.0);
        for (var step = 0; step < 5; step++)
        {
            using var x = randn(3, 5);
            ours.ZeroGrad();
            referenceW.zero_grad();
            referenceB.zero_grad();
            (x.matmul(w1) + b1).pow(2).sum().backward();
            (x.matmul(w2) + b2).pow(2).sum().backward();
            ours.Step();
            referenceW.step();
            referenceB.step();
        }
        Assert.True(w1.allclose(w2, rtol: 1e-5, atol: 1e-7), "weights diverged from torch.optim.AdamW");
        Assert.True(b1.allclose(b2, rtol: 1e-5, atol: 1e-7), "biases diverged from torch.optim.AdamW");
    }

    [Fact]
    public void AdamW_state_round_trips_exactly()
    {
        random.manual_seed(4);
        using var w = new Parameter(randn(3, 3));
        var a = new AdamWOptimizer([new ParameterGroup("decay", [w], ["w"], 0.1)], lr: 1e-2);
        w.grad = ones(3, 3);
        a.Step();
        var state = a.StateDict();
        using var w2 = new Parameter(w.detach().clone());
        var b = new AdamWOptimizer([new ParameterGroup("decay", [w2], ["w"], 0.1)], lr: 0);
        b.LoadStateDict(state);
        Assert.Equal(1e-2, b.LearningRate);
        w.grad = full(3, 3, 0.5f);
        w2.grad = full(3, 3, 0.5f);
        a.Step();
        b.Step();
        Assert.True(w.eq(w2).all().item<bool>(), "a restored optimizer must continue bit-exactly");
    }

    [Fact]
    public void Weight_decay_groups_follow_timm_and_exempt_the_projector()
    {
        using var proj = new Parameter(randn(4, 4));
        var named = new (string, Parameter)[]
        {
            ("blocks.0.attn.qkv.weight", new Parameter(randn(6, 2))),
            ("blocks.0.attn.qkv.bias", new Parameter(randn(6))),
            ("norm.weight", new Parameter(randn(2))),
            ("pos_embed", new Parameter(randn(1, 3, 2))),
            ("cls_token", new Parameter(randn(1, 1, 2))),
            ("projector.parametrizations.weight.original", proj),
        };
        var groups = WeightDecayGroups.Build(named, 0.05, new HashSet<Parameter>(ReferenceEqualityComparer.Instance) { proj });
        Assert.Equal(["blocks.0.attn.qkv.weight"], groups[0].ParameterNames);
        Assert.Equal(0.05, groups[0].WeightDecay);
        Assert.Equal(5, groups[1].ParameterNames.Count);
        Assert.Equal(0.0, groups[1].WeightDecay);
        // Compatibility mode: no exemption, so the 2-D projector parameter is decayed as in the released code.
        var released = WeightDecayGroups.Build(named, 0.05, null);
        Assert.Contains("projector.parametrizations.weight.original", released[0].ParameterNames);
    }
}
