using VkD.Distillation.Distiller;
using VkD.Distillation.Methods;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation.Methods;

/// <summary>DKD and DIST against tools/fixtures/make_method_fixtures.py (PyTorch 1.13).</summary>
public class LogitMethodTests
{
    private static LossInputs Inputs(Tensor student, Tensor teacher, Tensor? targets) =>
        new(new FeatureSet("student").Add(FeatureNames.Logits, student), new FeatureSet("teacher").Add(FeatureNames.Logits, teacher), targets);

    [Theory]
    [InlineData(1.0, 8.0, 4.0)]
    [InlineData(0.5, 2.0, 1.0)]
    public void Dkd_matches_the_reference_loss_its_two_parts_and_gradient(double alpha, double beta, double temperature)
    {
        using var f = Fixture.Load("methods", "dkd");
        using var scope = NewDisposeScope();
        var key = FormattableString.Invariant($"a{alpha:0.###}_b{beta:0.###}_T{temperature:0.###}");
        var s = f["s"].clone().requires_grad_(true);
        // Epoch 19 of a 20-epoch warm-up: factor 1, so the term is the reference's dkd_loss.
        var term = new DkdTerm(alpha, beta, temperature) { Epoch = 19 };
        var loss = term.Compute(Inputs(s, f["t"], f["y"]));
        loss.backward();
        Parity.Close(loss, f[$"{key}.loss"], 1e-5, "dkd");
        Parity.Close(s.grad!, f[$"{key}.grad_s"], 1e-5, "d dkd / d student logits");
        var (tckd, nckd) = DkdTerm.Parts(f["s"], f["t"], f["y"], temperature);
        Parity.Close(tckd, f[$"{key}.tckd"], 1e-5, "tckd");
        Parity.Close(nckd, f[$"{key}.nckd"], 1e-5, "nckd");
    }

    [Theory]
    [InlineData(0, 20, 0.05)]
    [InlineData(9, 20, 0.5)]
    [InlineData(18, 20, 0.95)]
    [InlineData(19, 20, 1.0)]
    [InlineData(150, 20, 1.0)]
    [InlineData(0, 0, 1.0)]
    [InlineData(0, 1, 1.0)]
    public void Dkd_warm_up_is_linear_in_the_epoch_counted_from_one_as_mdistiller(int epoch, int warmup, double expected)
    {
        Assert.Equal(expected, DkdTerm.WarmupFactor(epoch, warmup), 12);
    }

    [Fact]
    public void Dkd_scales_by_the_warm_up_of_the_step_it_was_told()
    {
        using var f = Fixture.Load("methods", "dkd");
        using var scope = NewDisposeScope();
        var term = new DkdTerm();
        var full = DkdTerm.Loss(f["s"], f["t"], f["y"], 1, 8, 4).item<float>();
        term.BeginStep(new DistillationStep(4, [0, 1, 2, 3, 4, 5]));
        Assert.Equal(4, term.Epoch);
        Assert.Equal(full * 0.25, term.Compute(Inputs(f["s"], f["t"], f["y"])).item<float>(), 5);
        term.BeginStep(new DistillationStep(40, [0, 1, 2, 3, 4, 5]));
        Assert.Equal(full, term.Compute(Inputs(f["s"], f["t"], f["y"])).item<float>(), 5);
    }

    [Fact]
    public void Dkd_refuses_soft_targets_and_a_teacher_without_logits_with_what_is_missing()
    {
        using var f = Fixture.Load("methods", "dkd");
        using var scope = NewDisposeScope();
        var soft = nn.functional.one_hot(f["y"], 5).to_type(ScalarType.Float32);
        var e = Assert.Throws<ArgumentException>(() => new DkdTerm().Compute(Inputs(f["s"], f["t"], soft)));
        Assert.Contains("--mixup 0 --cutmix 0", e.Message);
        var featureOnly = new LossInputs(new FeatureSet("student").Add(FeatureNames.Logits, f["s"]),
            new FeatureSet("teacher").Add(FeatureNames.Pooled, f["t"]), f["y"]);
        e = Assert.Throws<ArgumentException>(() => new DkdTerm().Compute(featureOnly));
        Assert.Contains("needs teacher logits", e.Message);
    }

    [Theory]
    [InlineData(1.0, 1.0, 1.0)]
    [InlineData(2.0, 0.5, 4.0)]
    public void Dist_matches_the_reference_loss_and_gradient(double beta, double gamma, double tau)
    {
        using var f = Fixture.Load("methods", "dist");
        using var scope = NewDisposeScope();
        var key = FormattableString.Invariant($"b{beta:0.###}_g{gamma:0.###}_tau{tau:0.###}");
        var s = f["s"].clone().requires_grad_(true);
        var loss = new DistTerm(beta, gamma, tau).Compute(Inputs(s, f["t"], null));
        loss.backward();
        Parity.Close(loss, f[$"{key}.loss"], 1e-5, "dist");
        Parity.Close(s.grad!, f[$"{key}.grad_s"], 1e-5, "d dist / d student logits");
    }

    [Fact]
    public void Logit_methods_read_the_distillation_head_when_the_student_has_one()
    {
        using var f = Fixture.Load("methods", "dist");
        using var scope = NewDisposeScope();
        var head = f["s"].clone().requires_grad_(true);
        var student = new FeatureSet("student").Add(FeatureNames.Logits, zeros_like(f["s"])).Add(FeatureNames.DistillationLogits, head);
        var loss = new DistTerm().Compute(new LossInputs(student, new FeatureSet("teacher").Add(FeatureNames.Logits, f["t"]), null));
        Parity.Close(loss, f["b1_g1_tau1.loss"], 1e-5, "dist on the distillation head");
    }
}
