using TorchSharp;
using VkD.Models;
using static TorchSharp.torch;
using static VkD.Tests.Models.ModelTestSupport;

namespace VkD.Tests.Models;

/// <summary>Registry names, parameter counts and state-dict layouts against the PyTorch references.</summary>
public class ModelRegistryTests
{
    [Theory]
    [InlineData("deit_tiny_patch16_224", 5_717_416)]
    [InlineData("deit_small_patch16_224", 22_050_664)]
    [InlineData("resnet18", 11_689_512)]
    [InlineData("resnet50", 25_557_032)]
    [InlineData("deit_tiny_distilled_patch16_224", 5_910_800)]
    [InlineData("deit_ti_distilled", 6_633_104)]
    [InlineData("regnety_002", 3_162_996)]
    public void Parameter_counts_match_the_references(string name, long expected)
    {
        using var model = ModelRegistry.Create(name);
        Assert.Equal(expected, ParameterCount(model));
    }

    [Theory]
    [InlineData("resnet18", 1000)]
    [InlineData("resnet34", 1000)]
    [InlineData("resnet50", 1000)]
    [InlineData("regnety_002", 1000)]
    [InlineData("regnety_040", 1000)]
    [InlineData("regnety_160", 1000)]
    [InlineData("deit_tiny_patch16_224", 1000)]
    [InlineData("deit_small_distilled_patch16_224", 1000)]
    [InlineData("deit_ti_distilled", 1000)]
    [InlineData("resnet32x4", 100)]
    public void State_dict_keys_and_shapes_equal_the_pytorch_reference(string name, int numClasses)
    {
        using var model = ModelRegistry.Create(name, new ModelOptions(NumClasses: numClasses));
        var ours = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        var reference = Layout(name);
        var missing = reference.Where(r => !ours.ContainsKey(r.Key)).Select(r => r.Key).ToList();
        var extra = ours.Keys.Except(reference.Select(r => r.Key)).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing: {string.Join(", ", missing.Take(10))}; extra: {string.Join(", ", extra.Take(10))}");
        foreach (var (key, shape) in reference)
        {
            Assert.True(shape.SequenceEqual(ours[key]), $"{key}: reference [{string.Join(",", shape)}], ours [{string.Join(",", ours[key])}]");
        }
    }

    [Fact]
    public void Regnety_160_is_the_deit_teacher_shape()
    {
        using var model = (RegNet)ModelRegistry.Create("regnety_160");
        Assert.Equal(3024, model.NumFeatures);
        var stages = model.Config.Stages();
        Assert.Equal([224, 448, 1232, 3024], stages.Select(s => s.Width));
        Assert.Equal([2, 4, 11, 1], stages.Select(s => s.Depth));
        var count = ParameterCount(model);
        Assert.Equal(83_590_140, count); // timm: 83.59M (the PyTorch re-statement of timm's RegNet gives the same)
    }

    [Fact]
    public void Regnet_widths_follow_timm_generate_regnet()
    {
        var stages = ((RegNet)ModelRegistry.Create("regnety_002")).Config.Stages();
        Assert.Equal([24, 56, 152, 368], stages.Select(s => s.Width));
        Assert.Equal([1, 1, 4, 7], stages.Select(s => s.Depth));
        Assert.All(stages, s => Assert.Equal(8, s.GroupSize));
    }

    [Fact]
    public void Regnet_features_are_stride_32_maps()
    {
        using var model = ModelRegistry.Create("regnety_002", new ModelOptions(NumClasses: 7));
        model.eval();
        using var noGrad = no_grad();
        using var x = torch.randn(1, 3, 64, 64);
        using var features = model.ForwardFeatures(x);
        Assert.Equal(new long[] { 1, 368, 2, 2 }, features.shape);
        var outputs = model.ForwardForDistillation(x);
        Assert.Equal(new long[] { 1, 7 }, outputs.Logits.shape);
        Assert.Null(outputs.DistillationLogits);
        Assert.Equal(new long[] { 1, 368 }, outputs.PooledFeatures.shape);
    }

    [Fact]
    public void Unknown_names_list_the_known_ones()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelRegistry.Create("deit_gigantic"));
        Assert.Contains("deit_gigantic", ex.Message);
        Assert.Contains("regnety_160", ex.Message);
        Assert.Contains("deit_ti_distilled", ex.Message);
    }

    [Fact]
    public void The_registry_has_every_reference_name()
    {
        string[] required =
        [
            "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
            "deit_tiny_distilled_patch16_224", "deit_small_distilled_patch16_224", "deit_base_distilled_patch16_224",
            "deit_ti_distilled", "deit_s_distilled", "regnety_002", "regnety_004", "regnety_008", "regnety_016",
            "regnety_032", "regnety_040", "regnety_080", "regnety_160", "resnet18", "resnet34", "resnet50",
            "resnet8", "resnet20", "resnet56", "resnet8x4", "resnet32x4", "deit_nano_patch4_32", "deit_nano_convstem_distilled_32",
        ];
        Assert.All(required, n => Assert.Contains(n, ModelRegistry.Names));
    }

    [Theory]
    [InlineData("deit_nano_patch4_32", 28, 1)]
    [InlineData("deit_nano_distilled_patch4_32", 32, 3)]
    [InlineData("deit_nano_convstem_distilled_32", 28, 1)]
    [InlineData("deit_nano_convstem_distilled_32", 32, 3)]
    [InlineData("resnet8x4", 28, 1)]
    [InlineData("resnet20", 32, 3)]
    public void Small_models_run_at_28_and_32_pixels_with_any_channel_count(string name, int img, int chans)
    {
        using var model = ModelRegistry.Create(name, new ModelOptions(NumClasses: 10, ImgSize: img, InChans: chans));
        model.eval();
        using var noGrad = no_grad();
        using var x = torch.randn(2, chans, img, img);
        using var logits = model.forward(x);
        Assert.Equal(new long[] { 2, 10 }, logits.shape);
        var outputs = model.ForwardForDistillation(x);
        Assert.Equal(new long[] { 2, model.NumFeatures }, outputs.PooledFeatures.shape);
    }

    [Fact]
    public void Two_head_forward_is_the_average_of_the_heads_in_eval()
    {
        using var model = ModelRegistry.Create("deit_nano_convstem_distilled_32", new ModelOptions(NumClasses: 3));
        model.eval();
        using var noGrad = no_grad();
        using var x = torch.randn(2, 3, 32, 32);
        var o = model.ForwardForDistillation(x);
        using var logits = model.forward(x);
        AssertClose((o.Logits + o.DistillationLogits!) / 2, logits, 1e-5, "average of heads");
        Assert.False(torch.allclose(o.Logits, o.DistillationLogits!), "the two heads should differ");
    }

    [Fact]
    public void Drop_path_is_stochastic_in_training_and_off_in_eval()
    {
        using var model = ModelRegistry.Create("deit_nano_patch4_32", new ModelOptions(NumClasses: 3, DropPathRate: 0.5));
        using var noGrad = no_grad();
        using var x = torch.randn(4, 3, 32, 32);
        model.train();
        torch.manual_seed(1);
        using var a = model.forward(x);
        using var b = model.forward(x);
        Assert.False(torch.allclose(a, b), "drop path should change training outputs between calls");
        model.eval();
        using var c = model.forward(x);
        using var d = model.forward(x);
        Assert.True(torch.allclose(c, d, 0, 0));
        using var zero = ModelRegistry.Create("deit_nano_patch4_32", new ModelOptions(NumClasses: 3));
        zero.train();
        Assert.True(torch.allclose(zero.forward(x), zero.forward(x), 0, 0), "rate 0 must be deterministic");
    }

    [Fact]
    public void Image_size_must_fit_the_patching()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelRegistry.Create("deit_ti_distilled", new ModelOptions(ImgSize: 100)));
        Assert.Contains("100", ex.Message);
    }
}
