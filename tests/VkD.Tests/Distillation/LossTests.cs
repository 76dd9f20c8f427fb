using TorchSharp;
using VkD.Distillation.Losses;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using VkD.Distillation.Teachers;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

/// <summary>The losses against the reference's engine.py terms computed by PyTorch 1.13.</summary>
public class LossTests
{
    private static DistillationLoss ClassificationLoss(Fixture f, double temperature, double labelSmoothing)
    {
        var loss = DistillationLoss.ForClassification(new OrthogonalProjector(6, 12),
            new DistillationLossOptions(Temperature: temperature, LabelSmoothing: labelSmoothing));
        var state = Parity.StateWithPrefix(f, "projector.").ToDictionary(kv => "projector." + kv.Key, kv => kv.Value);
        Assert.Equal(state.Keys.OrderBy(k => k), loss.state_dict().Keys.OrderBy(k => k));
        loss.load_state_dict(state, strict: true);
        return loss;
    }

    [Theory]
    [InlineData(1.0, "soft")]
    [InlineData(1.0, "labels")]
    [InlineData(2.0, "soft")]
    [InlineData(2.0, "labels")]
    public void Distillation_loss_matches_the_reference_terms_and_gradients(double temperature, string targets)
    {
        using var f = Fixture.Load("core", "losses");
        using var loss = ClassificationLoss(f, temperature, targets == "labels" ? 0.1 : 0.0);
        using var scope = NewDisposeScope();
        var ys = f["y_s"].clone().requires_grad_(true);
        var ysd = f["y_sd"].clone().requires_grad_(true);
        var zs = f["z_s"].clone().requires_grad_(true);
        var teacher = new TeacherOutputs(f["y_t"], f["z_t"]);
        using var output = loss.Compute(ys, ysd, zs, f[targets], teacher);
        output.Total.backward();
        var key = $"T{temperature:0.#}.{targets}";
        Parity.Close(output.Ce, f[$"{key}.ce"], 1e-6, "ce");
        Parity.Close(output.Kd, f[$"{key}.kd"], 1e-6, "kd");
        Parity.Close(output.Repr, f[$"{key}.repr"], 1e-6, "repr");
        Parity.Close(output.Total, f[$"{key}.total"], 1e-6, "total");
        Parity.Close(ys.grad!, f[$"{key}.grad_y_s"], 1e-6, "d/d class logits");
        Parity.Close(ysd.grad!, f[$"{key}.grad_y_sd"], 1e-6, "d/d distillation logits");
        Parity.Close(zs.grad!, f[$"{key}.grad_z_s"], 1e-6, "d/d student features");
        var original = ((OrthogonalProjector)loss.Projector).Original;
        Parity.Close(original.grad!, f[$"{key}.grad_original"], 1e-6, "d/d projector original");
        var doubles = output.ToDoubles();
        Assert.Equal(f[$"{key}.total"].item<float>(), doubles["total"], 1e-5);
        Assert.Equal(new[] { "ce", "kd", "repr", "total" }, doubles.Keys.OrderBy(k => k));
    }

    [Fact]
    public void Feature_loss_variants_match_PyTorch()
    {
        using var f = Fixture.Load("core", "losses");
        using var scope = NewDisposeScope();
        Parity.Close(new FeatureLoss().Compute(f["fa"], f["ft"]), f["smooth_l1_b1"], 1e-6, "smooth_l1 beta 1");
        Parity.Close(new FeatureLoss(FeatureLossKind.SmoothL1, 0.5).Compute(f["fa"], f["ft"]), f["smooth_l1_b05"], 1e-6, "smooth_l1 beta 0.5");
        Parity.Close(new FeatureLoss(FeatureLossKind.Mse).Compute(f["fa"], f["ft"]), f["mse"], 1e-6, "mse");
        Parity.Close(new FeatureLoss(FeatureLossKind.L2PerRow).Compute(f["fa"], f["ft"]), f["l2"], 1e-6, "l2 per row");
    }

    [Fact]
    public void Zero_weights_skip_their_terms_and_teacher_features_get_no_gradient()
    {
        using var f = Fixture.Load("core", "losses");
        using var loss = DistillationLoss.ForClassification(new OrthogonalProjector(6, 12),
            new DistillationLossOptions(Alpha: 0, Gamma: 0));
        using var scope = NewDisposeScope();
        var ys = f["y_s"].clone().requires_grad_(true);
        using var output = loss.Compute(ys, null, f["z_s"], f["soft"], new TeacherOutputs(null, f["z_t"]));
        output.Total.backward();
        Assert.Equal(0.0, output.Kd.item<float>());
        Assert.Equal(0.0, output.Repr.item<float>());
        Parity.Close(output.Total, output.Ce, 0, "total = ce");
        Assert.True(((OrthogonalProjector)loss.Projector).Original.grad is null);

        using var withFeatures = DistillationLoss.ForClassification(new OrthogonalProjector(6, 12), new DistillationLossOptions(Gamma: 0));
        var teacherFeatures = f["z_t"].clone().requires_grad_(true);
        using var out2 = withFeatures.Compute(f["y_s"], null, f["z_s"], f["soft"], new TeacherOutputs(null, teacherFeatures));
        out2.Total.backward();
        Assert.True(out2.Repr.item<float>() > 0);
        Assert.True(teacherFeatures.grad is null);
    }

    [Fact]
    public void Distillation_head_defaults_to_the_class_head()
    {
        using var f = Fixture.Load("core", "losses");
        using var loss = ClassificationLoss(f, 1.0, 0.0);
        using var scope = NewDisposeScope();
        var teacher = new TeacherOutputs(f["y_t"], f["z_t"]);
        using var a = loss.Compute(f["y_s"], null, f["z_s"], f["soft"], teacher);
        using var b = loss.Compute(f["y_s"], f["y_s"], f["z_s"], f["soft"], teacher);
        Parity.Close(a.Kd, b.Kd, 0, "kd with a null distillation head");
    }

    [Fact]
    public void Bad_inputs_give_clear_errors_with_the_shapes()
    {
        using var f = Fixture.Load("core", "losses");
        using var loss = ClassificationLoss(f, 1.0, 0.0);
        using var scope = NewDisposeScope();
        var noLogits = Assert.Throws<ArgumentException>(() =>
            loss.Compute(f["y_s"], null, f["z_s"], f["soft"], new TeacherOutputs(null, f["z_t"])));
        Assert.Contains("teacher logits", noLogits.Message);
        var badTeacher = Assert.Throws<ArgumentException>(() =>
            loss.Compute(f["y_s"], null, f["z_s"], f["soft"], new TeacherOutputs(f["y_t"], randn(8, 11))));
        Assert.Contains("[8, 11]", badTeacher.Message);
        Assert.Contains("[8, 12]", badTeacher.Message);
        var badStudent = Assert.Throws<ArgumentException>(() =>
            loss.Compute(f["y_s"], null, randn(8, 5), f["soft"], new TeacherOutputs(f["y_t"], f["z_t"])));
        Assert.Contains("[8, 5]", badStudent.Message);
        var badTargets = Assert.Throws<ArgumentException>(() =>
            loss.Compute(f["y_s"], null, f["z_s"], randn(8, 9), new TeacherOutputs(f["y_t"], f["z_t"])));
        Assert.Contains("[8, 9]", badTargets.Message);
    }
}
