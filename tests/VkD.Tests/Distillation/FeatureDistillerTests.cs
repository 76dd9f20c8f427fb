using VkD.Distillation.Distiller;
using VkD.Distillation.Losses;
using VkD.Distillation.Projectors;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

public sealed class FeatureDistillerTests
{
    [Fact]
    public void Map_rows_put_each_pixel_in_a_row_of_its_channels()
    {
        using var scope = NewDisposeScope();
        var x = arange(2 * 3 * 2 * 2, dtype: ScalarType.Float32).reshape(2, 3, 2, 2);
        var rows = FeatureRows.Map.ToRows(x, "t", "student");
        Assert.Equal([8L, 3L], rows.shape);
        // Row 5 is image 1, pixel (0, 1): channels 0..2 of that pixel.
        Assert.Equal([x[1, 0, 0, 1].item<float>(), x[1, 1, 0, 1].item<float>(), x[1, 2, 0, 1].item<float>()], rows[5].data<float>().ToArray());
        Assert.Equal([6L, 4L], FeatureRows.Tokens.ToRows(zeros(2, 3, 4), "t", "student").shape);
        var bad = Assert.Throws<ArgumentException>(() => FeatureRows.Map.ToRows(zeros(2, 3), "repr", "teacher"));
        Assert.Contains("repr", bad.Message);
        Assert.Contains("[2, 3]", bad.Message);
    }

    [Fact]
    public void A_shared_projector_is_registered_once_and_a_name_clash_is_refused()
    {
        using var shared = new OrthogonalProjector(4, 6);
        using var distiller = new FeatureDistiller(
        [
            new FeaturePairTerm("a", "x", "x", shared),
            new FeaturePairTerm("b", "y", "y", shared, rows: FeatureRows.Tokens),
        ]);
        Assert.Single(distiller.Projectors);
        Assert.Equal(shared.parameters().Count(), distiller.parameters().Count());
        Assert.All(distiller.state_dict().Keys, k => Assert.StartsWith("projector.", k));

        using var other = new OrthogonalProjector(4, 6);
        var clash = Assert.Throws<ArgumentException>(() => distiller.Add(new FeaturePairTerm("c", "x", "x", other)));
        Assert.Contains("'projector'", clash.Message);
        var twice = Assert.Throws<ArgumentException>(() => distiller.Add(new FeaturePairTerm("a", "x", "x", shared)));
        Assert.Contains("'a'", twice.Message);
    }

    [Fact]
    public void Terms_are_weighted_summed_in_order_and_a_zero_weight_term_is_not_computed()
    {
        using var scope = NewDisposeScope();
        using var projector = new LinearProjector(3, 3);
        using var distiller = new FeatureDistiller(
        [
            new FeaturePairTerm("mse", "s", "t", projector, distance: new FeatureLoss(FeatureLossKind.Mse), weight: 2.0),
            new FeaturePairTerm("cos", "s", "t", projector, distance: new FeatureLoss(FeatureLossKind.Cosine)),
            // Weight 0: its feature is absent, which would throw if it were computed.
            new FeaturePairTerm("off", "missing", "t", projector, weight: 0),
        ]);
        var s = randn(5, 3);
        var t = randn(5, 3);
        using var terms = distiller.Compute(new LossInputs(new FeatureSet("student").Add("s", s), new FeatureSet("teacher").Add("t", t), null));
        var p = projector.forward(s);
        var mse = 2.0 * (p - t).pow(2).mean().item<float>();
        var cos = 1.0 - nn.functional.cosine_similarity(p, t, dim: -1).mean().item<float>();
        Assert.Equal(mse, terms["mse"].item<float>(), 5);
        Assert.Equal(cos, terms["cos"].item<float>(), 5);
        Assert.Equal(0f, terms["off"].item<float>());
        Assert.Equal(mse + cos, terms.Total.item<float>(), 5);
        Assert.Equal(["mse", "cos", "off", "total"], terms.ToDoubles().Keys);
    }

    [Fact]
    public void A_missing_feature_names_the_term_and_what_the_side_has()
    {
        using var projector = new LinearProjector(3, 3);
        using var distiller = new FeatureDistiller([new FeaturePairTerm("repr", "pooled", "pooled", projector)]);
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => distiller.Compute(new LossInputs(
            new FeatureSet("student").Add("tokens", randn(2, 3)), new FeatureSet("teacher").Add("pooled", randn(2, 3)), null)));
        Assert.Contains("'repr'", e.Message);
        Assert.Contains("student feature 'pooled'", e.Message);
        Assert.Contains("[tokens]", e.Message);
        var noTeacher = Assert.Throws<ArgumentException>(() => distiller.Compute(new LossInputs(new FeatureSet("student").Add("pooled", randn(2, 3)), null, null)));
        Assert.Contains("needs the teacher", noTeacher.Message);
    }

    [Fact]
    public void Module_taps_capture_named_submodule_outputs_and_refuse_unknown_paths()
    {
        using var model = nn.Sequential(("fc1", nn.Linear(4, 5)), ("act", nn.ReLU()), ("fc2", nn.Linear(5, 2)));
        using var taps = new ModuleTaps(model, ["fc1", "act"]);
        using var scope = NewDisposeScope();
        var x = randn(3, 4);
        var y = model.call(x);
        var set = taps.AddTo(new FeatureSet("student"));
        var fc1 = set.Find("fc1")!;
        Assert.Equal([3L, 5L], fc1.shape);
        Assert.True(set.Find("act")!.eq(nn.functional.relu(fc1)).all().item<bool>());
        Assert.Throws<InvalidOperationException>(() => taps["fc1"]);
        var e = Assert.Throws<ArgumentException>(() => new ModuleTaps(model, ["fc3"]));
        Assert.Contains("fc3", e.Message);
        Assert.Contains("fc2", e.Message);
    }

    [Fact]
    public void A_zoo_model_can_be_tapped_at_any_layer()
    {
        using var model = VkD.Models.ModelRegistry.Create("resnet8", new VkD.Models.ModelOptions(10, 28, 0, 1));
        model.eval();
        using var taps = new ModuleTaps(model, ["layer2", "layer3.0.conv1"]);
        using var scope = NewDisposeScope();
        model.call(randn(2, 1, 28, 28));
        Assert.Equal(4, (int)taps["layer2"].ndim);
        Assert.Equal(2, taps["layer3.0.conv1"].shape[0]);
    }
}
