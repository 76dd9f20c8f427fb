using VkD.Detection.Models;
using VkD.Detection.Training;
using VkD.Distillation.Distiller;
using VkD.Distillation.Projectors;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Training.DetectionTrainingFixtures;

namespace VkD.Tests.Detection.Training;

/// <summary>VkD's detection distillation and ViDT's token matching against the PyTorch restatement of VkD's
/// vidt/ (projectors in detector.py, criterion.py's distil branch) and naver-ai/vidt's criterion.py (fixture
/// distillation.pt): values and gradients w.r.t. every student feature and projector parameter.</summary>
public sealed class VidtDistillationTests(ITestOutputHelper output)
{
    private const int Levels = 4;

    private static readonly string[] Features =
        [.. Enumerable.Range(1, Levels).Select(VidtFeatureNames.PatchToken), VidtFeatureNames.BodyDetToken, VidtFeatureNames.NeckDetToken];

    /// <summary>A detector output holding the fixture's features for one side (heads and references are unused).</summary>
    private static VidtOutputs Outputs(Fixture f, string side, Dictionary<string, Tensor>? leaves = null)
    {
        Tensor Get(string name)
        {
            var t = f[$"{side}.{name}"].detach().clone();
            if (leaves is not null)
            {
                t.requires_grad_();
                leaves[name] = t;
            }
            return t;
        }
        var patches = Enumerable.Range(1, Levels).Select(l => Get(VidtFeatureNames.PatchToken(l))).ToArray();
        return new VidtOutputs(zeros(1), zeros(1), patches, Get(VidtFeatureNames.BodyDetToken), Get(VidtFeatureNames.NeckDetToken), zeros(1), zeros(1));
    }

    private static LossInputs Inputs(Fixture f, Dictionary<string, Tensor> leaves) => new(
        VidtDistillation.AddFeatures(new FeatureSet("student"), Outputs(f, "student", leaves)),
        VidtDistillation.AddFeatures(new FeatureSet("teacher"), Outputs(f, "teacher")), null);

    [Fact]
    public void Vkd_distillation_matches_the_reference_in_value_and_gradients()
    {
        using var f = Fixture.Load(Part, "distillation");
        using var scope = NewDisposeScope();
        var width = (int)f["student.body_det_token"].shape[2];
        using var distiller = VidtDistillation.CreateVkd(width: width);
        var state = f.Keys.Where(k => k.StartsWith("state.", StringComparison.Ordinal)).ToDictionary(k => k[6..], k => f[k]);
        Assert.Equal(state.Keys.OrderBy(k => k), distiller.state_dict().Keys.OrderBy(k => k));
        distiller.load_state_dict(state, strict: true);
        Assert.All(distiller.Projectors.Values, p => Assert.Equal(OrthogonalMap.MatrixExp, ((ScaledOrthogonalProjector)p).Orthogonal.Map));
        Assert.Equal(["patch_projector_1", "patch_projector_2", "patch_projector_3", "patch_projector_4", "body_det_projector", "neck_det_projector"],
            distiller.Projectors.Keys);

        var leaves = new Dictionary<string, Tensor>();
        using var terms = distiller.Compute(Inputs(f, leaves));
        Assert.Equal(VidtDistillation.VkdTermNames(), terms.Terms.Select(t => t.Name));
        foreach (var (name, value) in terms.Terms)
        {
            AssertClose(f["vkd." + name], value, 1e-5, name);
        }
        var total = AssertClose(f["vkd.total"], terms.Total, 1e-5, "total");
        terms.Total.backward();
        var worst = 0.0;
        foreach (var feature in Features)
        {
            worst = Math.Max(worst, AssertClose(f["vkd.grad." + feature], leaves[feature].grad!, 1e-5, "d/d " + feature));
        }
        foreach (var (name, parameter) in distiller.named_parameters())
        {
            worst = Math.Max(worst, AssertClose(f["vkd.grad." + name], parameter.grad!, 1e-5, "d/d " + name));
        }
        output.WriteLine($"VkD: total {terms.Total.item<float>():g6} (diff {total:g3}), worst gradient diff {worst:g3}");
    }

    [Fact]
    public void Vidt_token_matching_matches_vidt_in_value_and_gradients()
    {
        using var f = Fixture.Load(Part, "distillation");
        using var scope = NewDisposeScope();
        using var distiller = VidtDistillation.CreateTokenMatching();
        Assert.Empty(distiller.parameters());
        var leaves = new Dictionary<string, Tensor>();
        using var terms = distiller.Compute(Inputs(f, leaves));
        Assert.Equal(["loss_distil"], terms.Terms.Select(t => t.Name));
        var diff = AssertClose(f["vidt.loss_distil"], terms["loss_distil"], 1e-5, "loss_distil");
        terms.Total.backward();
        var worst = 0.0;
        foreach (var feature in Features)
        {
            worst = Math.Max(worst, AssertClose(f["vidt.grad." + feature], leaves[feature].grad!, 1e-5, "d/d " + feature));
        }
        output.WriteLine($"ViDT token matching: {terms.Total.item<float>():g6} (diff {diff:g3}), worst gradient diff {worst:g3}");
    }

    [Fact]
    public void Teacher_features_get_no_gradient()
    {
        using var f = Fixture.Load(Part, "distillation");
        using var scope = NewDisposeScope();
        var teacherLeaves = new Dictionary<string, Tensor>();
        var inputs = new LossInputs(
            VidtDistillation.AddFeatures(new FeatureSet("student"), Outputs(f, "student", [])),
            VidtDistillation.AddFeatures(new FeatureSet("teacher"), Outputs(f, "teacher", teacherLeaves)), null);
        using var vkd = VidtDistillation.CreateVkd(width: (int)f["student.body_det_token"].shape[2]);
        using var a = vkd.Compute(inputs);
        using var vidt = VidtDistillation.CreateTokenMatching();
        using var b = vidt.Compute(inputs);
        (a.Total + b.Total).backward();
        Assert.All(teacherLeaves.Values, t => Assert.True(t.grad is null || t.grad.abs().max().item<float>() == 0));
    }

    [Fact]
    public void Missing_or_misshapen_features_are_named()
    {
        using var f = Fixture.Load(Part, "distillation");
        using var scope = NewDisposeScope();
        var student = VidtDistillation.AddFeatures(new FeatureSet("student"), Outputs(f, "student"));
        var teacher = new FeatureSet("teacher").Add(VidtFeatureNames.PatchToken(1), f["teacher.patch_token_1"]);
        using var vidt = VidtDistillation.CreateTokenMatching();
        var missing = Assert.Throws<ArgumentException>(() => vidt.Compute(new LossInputs(student, teacher, null)));
        Assert.Contains("patch_token_2", missing.Message);
        using var wrongEntries = VidtDistillation.CreateTokenMatching(neckEntries: 6);
        var full = VidtDistillation.AddFeatures(new FeatureSet("teacher"), Outputs(f, "teacher"));
        var entries = Assert.Throws<ArgumentException>(() => wrongEntries.Compute(new LossInputs(student, full, null)));
        Assert.Contains("6 decoder entries", entries.Message);
        Assert.Contains("teacher", Assert.Throws<ArgumentException>(() => vidt.Compute(new LossInputs(student, null, null))).Message);
    }
}
