using VkD.Detection.Training;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Training.DetectionTrainingFixtures;

namespace VkD.Tests.Detection.Training;

/// <summary>ViDT's focal, L1 and GIoU losses and its whole set criterion with auxiliary outputs, against the PyTorch
/// restatement (fixtures focal_boxes.pt, criterion*.pt): values, logged statistics, matches and gradients.</summary>
public sealed class SetCriterionTests(ITestOutputHelper output)
{
    [Fact]
    public void Focal_loss_value_and_gradient_match_vidt()
    {
        using var f = Fixture.Load(Part, "focal_boxes");
        using var scope = NewDisposeScope();
        var x = f["logits"].detach().clone().requires_grad_();
        var loss = DetectionLosses.SigmoidFocalLoss(x, f["targets"], 4.0);
        loss.backward();
        AssertClose(f["loss"], loss, 1e-6, "focal loss");
        AssertClose(f["grad"], x.grad!, 1e-6, "focal gradient");
        var y = f["logits"].detach().clone().requires_grad_();
        var noAlpha = DetectionLosses.SigmoidFocalLoss(y, f["targets"], 4.0, alpha: -1);
        noAlpha.backward();
        AssertClose(f["loss_no_alpha"], noAlpha, 1e-6, "focal loss without alpha");
        AssertClose(f["grad_no_alpha"], y.grad!, 1e-6, "focal gradient without alpha");
    }

    [Fact]
    public void Box_l1_and_giou_losses_and_their_gradients_match_vidt()
    {
        using var f = Fixture.Load(Part, "focal_boxes");
        using var scope = NewDisposeScope();
        var src = f["src"].detach().clone().requires_grad_();
        var l1 = DetectionLosses.BoxL1(src, f["tgt"], 2.5);
        var giou = DetectionLosses.GeneralizedIouLoss(src, f["tgt"], 2.5);
        (l1 + (3 * giou)).backward();
        AssertClose(f["loss_bbox"], l1, 1e-6, "loss_bbox");
        AssertClose(f["loss_giou"], giou, 1e-6, "loss_giou");
        AssertClose(f["box_grad"], src.grad!, 1e-5, "box gradient");
    }

    [Theory]
    [InlineData("criterion")]
    [InlineData("criterion_vidt_sets")]
    [InlineData("criterion_no_boxes")]
    public void Criterion_with_aux_outputs_matches_vidt_in_values_matches_and_gradients(string name)
    {
        using var f = Fixture.Load(Part, name);
        using var scope = NewDisposeScope();
        var logits = f["logits"].detach().clone().requires_grad_();
        var boxes = f["boxes"].detach().clone().requires_grad_();
        var targets = HungarianMatcherTests.Targets(f);
        var sets = (int)logits.shape[0];
        using var result = new SetCriterion().Compute(logits, boxes, targets);
        Assert.Equal(SetCriterion.TermNames(sets), result.Losses.Terms.Select(t => t.Name));
        Assert.Equal(f["num_boxes"].item<double>(), result.BoxCount);
        var worst = 0.0;
        foreach (var (term, value) in result.Losses.Terms)
        {
            worst = Math.Max(worst, AssertRelativeClose(f[term], value, 1e-5, term));
        }
        AssertRelativeClose(f["total"], result.Losses.Total, 1e-5, "total");
        Assert.Equal(SetCriterion.LoggedNames(sets).OrderBy(n => n), result.Logged.Keys.OrderBy(n => n));
        foreach (var (stat, value) in result.Logged)
        {
            Assert.True(Math.Abs(f[stat].to(float64).item<double>() - value) <= 1e-4, $"{stat}: {value} vs {f[stat].item<float>()}");
        }
        for (var p = 0; p < sets; p++)
        {
            for (var b = 0; b < targets.Count; b++)
            {
                Assert.Equal(f[$"match{p}_pred_{b}"].data<long>().ToArray(), result.Matches[p][b].Predictions);
                Assert.Equal(f[$"match{p}_tgt_{b}"].data<long>().ToArray(), result.Matches[p][b].Targets);
            }
        }
        result.Losses.Total.backward();
        var gLogits = AssertClose(f["grad_logits"], logits.grad!, 1e-5, "gradient w.r.t. logits");
        var gBoxes = AssertClose(f["grad_boxes"], boxes.grad!, 1e-5, "gradient w.r.t. boxes");
        output.WriteLine($"{name}: {sets} sets, total {result.Losses.Total.item<float>():g6}, worst relative term diff {worst:g3}, grad diffs {gLogits:g3} / {gBoxes:g3}");
    }

    [Fact]
    public void Box_count_goes_through_the_sync_and_is_clamped_at_one()
    {
        using var scope = NewDisposeScope();
        var one = new BoxTargets(tensor(new long[] { 3 }), tensor(new[] { 0.5f, 0.5f, 0.2f, 0.2f }, [1, 4]));
        var none = new BoxTargets(zeros(0, dtype: int64), zeros(0, 4));
        Assert.Equal(2.0, new SetCriterion().BoxCount([one, one]));
        Assert.Equal(1.0, new SetCriterion().BoxCount([none, none]));
        Assert.Equal(1.5, new SetCriterion(boxCountSync: new HalvingSync()).BoxCount([one, one, one]));
        Assert.Equal(1.0, new SetCriterion(boxCountSync: new HalvingSync()).BoxCount([one]));
    }

    [Fact]
    public void Criterion_refuses_mismatched_inputs()
    {
        using var scope = NewDisposeScope();
        var criterion = new SetCriterion();
        var t = new BoxTargets(zeros(0, dtype: int64), zeros(0, 4));
        Assert.Contains("91 classes", Assert.Throws<ArgumentException>(() => criterion.Compute(zeros(2, 1, 3, 90), zeros(2, 1, 3, 4), [t])).Message);
        Assert.Contains("2 targets", Assert.Throws<ArgumentException>(() => criterion.Compute(zeros(1, 3, 91), zeros(1, 3, 4), [t, t])).Message);
        Assert.Throws<ArgumentException>(() => criterion.Compute(zeros(1, 3, 91), zeros(1, 4, 4), [t]));
    }

    [Fact]
    public void Concatenated_terms_keep_every_name_and_sum_the_totals()
    {
        using var scope = NewDisposeScope();
        var a = new VkD.Distillation.Distiller.LossTerms([("x", tensor(1.0f)), ("y", tensor(2.0f))], tensor(3.0f));
        var b = new VkD.Distillation.Distiller.LossTerms([("z", tensor(4.0f))], tensor(4.0f));
        using var joined = LossTermsConcatenation.Concat(a, b);
        Assert.Equal(["x", "y", "z"], joined.Terms.Select(t => t.Name));
        Assert.Equal(7.0f, joined.Total.item<float>());
        var c = new VkD.Distillation.Distiller.LossTerms([("x", tensor(1.0f))], tensor(1.0f));
        var d = new VkD.Distillation.Distiller.LossTerms([("x", tensor(1.0f))], tensor(1.0f));
        Assert.Contains("'x'", Assert.Throws<ArgumentException>(() => LossTermsConcatenation.Concat(c, d)).Message);
    }

    /// <summary>Two processes where the other one holds no boxes.</summary>
    private sealed class HalvingSync : VkD.Training.Distributed.IGradientSync
    {
        public int Rank => 0;

        public int WorldSize => 2;

        public void AllReduceGradients(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
        {
        }

        public double AllReduceMean(double value) => value / 2;
    }
}
