using VkD.Models;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;
using static VkD.Tests.Models.ModelTestSupport;

namespace VkD.Tests.Models;

/// <summary>Models loaded strictly from PyTorch state dicts give PyTorch's features and logits (fixtures from
/// tools/fixtures/make_model_fixtures.py with PyTorch 1.13).</summary>
public class ModelParityTests
{
    private static void CheckParity(ClassifierModel model, string name)
    {
        LoadWeights(model, name);
        using var f = Fixture.Load("models", name);
        using var noGrad = no_grad();
        using var features = model.ForwardFeatures(f["input"]);
        using var logits = model.forward(f["input"]);
        AssertClose(f["features"], features, what: name + " features");
        AssertClose(f["logits"], logits, what: name + " logits");
    }

    [Fact]
    public void Timm_vit_matches_pytorch()
    {
        CheckParity(new VisionTransformer(new VisionTransformerConfig(32, 8, 3, 5, 32, 2, 2)), "vit_small");
    }

    [Fact]
    public void Timm_distilled_deit_with_learned_dist_token_matches_pytorch()
    {
        var model = new DistilledVisionTransformer(new VisionTransformerConfig(32, 8, 3, 5, 32, 2, 2));
        CheckParity(model, "vit_distilled_small");
        CheckDistillationOutputs(model, "vit_distilled_small");
    }

    [Fact]
    public void Vkd_conv_stem_student_matches_the_reference()
    {
        var model = new ConvStemDistilledVisionTransformer(new VisionTransformerConfig(64, 16, 3, 5, 32, 2, 2), new ConvStemConfig(16, 7, 2, 8));
        CheckParity(model, "vkd_small");
        CheckDistillationOutputs(model, "vkd_small");
    }

    [Fact]
    public void Small_conv_stem_student_with_one_input_channel_matches_the_reference()
    {
        var model = new ConvStemDistilledVisionTransformer(new VisionTransformerConfig(32, 4, 1, 4, 32, 1, 2), new ConvStemConfig(8, 3, 1, 4));
        CheckParity(model, "vkd_nano");
    }

    [Fact]
    public void Timm_regnet_matches_pytorch()
    {
        CheckParity(new RegNet(new RegNetConfig(6, 16, 16, 2.0, 8, 0.25), numClasses: 5), "regnet_small");
    }

    [Fact]
    public void RepDistiller_cifar_resnet_matches_pytorch()
    {
        CheckParity(new CifarResNet(8, [16, 16, 32, 64], 10), "resnet8");
    }

    [Fact]
    public void Torchvision_resnet18_matches_torchvision_with_formula_weights()
    {
        using var model = ModelRegistry.Create("resnet18", new ModelOptions(NumClasses: 10));
        FillFormulaWeights(model);
        model.eval();
        using var f = Fixture.Load("models", "resnet18_formula");
        using var noGrad = no_grad();
        using var features = model.ForwardFeatures(f["input"]);
        using var pooled = model.ForwardHead(features, preLogits: true);
        using var logits = model.ForwardHead(features);
        AssertClose(f["features"], pooled, what: "resnet18 pooled");
        AssertClose(f["logits"], logits, what: "resnet18 logits");
    }

    [Fact]
    public void Timm_regnety_002_matches_the_reference_with_formula_weights()
    {
        using var model = ModelRegistry.Create("regnety_002", new ModelOptions(NumClasses: 10));
        FillFormulaWeights(model);
        model.eval();
        using var f = Fixture.Load("models", "regnety_002_formula");
        using var noGrad = no_grad();
        using var features = model.ForwardFeatures(f["input"]);
        using var logits = model.ForwardHead(features);
        AssertClose(f["features"], features, what: "regnety_002 features");
        AssertClose(f["logits"], logits, what: "regnety_002 logits");
    }

    private static void CheckDistillationOutputs(TwoHeadVisionTransformer model, string name)
    {
        using var f = Fixture.Load("models", name);
        using var noGrad = no_grad();
        var outputs = model.ForwardForDistillation(f["input"]);
        AssertClose(f["head_logits"], outputs.Logits, what: "head(cls)");
        AssertClose(f["dist_logits"], outputs.DistillationLogits!, what: "head_dist(dist)");
        AssertClose(f["mean_patch"], outputs.PooledFeatures, what: "mean patch token");
        Assert.Equal(model.NumFeatures, (int)outputs.PooledFeatures.shape[1]);
        using var features = model.ForwardFeatures(f["input"]);
        var parts = TwoHeadVisionTransformer.SplitTokens(features);
        Assert.Equal(model.NumPatches, (int)parts.Patches.shape[1]);
        AssertClose(f["features"].select(1, 1), parts.Dist, what: "dist token");
        outputs.Logits.Dispose();
        outputs.DistillationLogits!.Dispose();
        outputs.PooledFeatures.Dispose();
    }
}
