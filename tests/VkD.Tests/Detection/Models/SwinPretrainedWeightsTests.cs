using TorchSharp;
using VkD.Detection.Models;
using VkD.Interop.Checkpoints;
using VkD.Models.Swin;
using static TorchSharp.torch;

namespace VkD.Tests.Detection.Models;

/// <summary>ImageNet Swin weights (the Swin release's layout: <c>model</c> with <c>patch_embed</c>, <c>layers</c>,
/// <c>attn_mask</c> buffers, <c>norm</c>, <c>head</c>) into ViDT's backbone, as ViDT's <c>--pre_trained</c>.</summary>
public sealed class SwinPretrainedWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-swin-pre-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static bool ViDtOnly(string key) =>
        key is "det_token" or "det_pos_embed" || key.Contains(".det_pos_linear.", StringComparison.Ordinal)
        || key.Contains(".downsample.expansion.", StringComparison.Ordinal) || key.Contains(".downsample.norm2.", StringComparison.Ordinal)
        || key.StartsWith("layers.3.downsample.", StringComparison.Ordinal) || key.StartsWith("norm1.", StringComparison.Ordinal)
        || key.StartsWith("norm2.", StringComparison.Ordinal) || key.StartsWith("norm3.", StringComparison.Ordinal);

    /// <summary>A classification Swin's checkpoint made from <paramref name="source"/>'s weights.</summary>
    private string WriteImageNetLayout(SwinTransformerRam source, string name)
    {
        var c = source.Config;
        var width = c.StageDim(3);
        var sd = source.state_dict().Where(kv => !ViDtOnly(kv.Key)).ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
        sd["norm.weight"] = torch.ones(width);
        sd["norm.bias"] = torch.zeros(width);
        sd["head.weight"] = torch.zeros(10, width);
        sd["head.bias"] = torch.zeros(10);
        var n = c.WindowSize * c.WindowSize;
        sd["layers.0.blocks.1.attn_mask"] = torch.zeros(4, n, n);
        sd["layers.3.blocks.1.attn_mask"] = torch.zeros(1, n, n);
        var path = Path.Combine(_dir, name);
        CheckpointWriter.Write(path, new Dictionary<string, object?> { ["model"] = sd });
        return path;
    }

    [Fact]
    public void Imagenet_swin_weights_load_into_the_backbone_and_the_rest_is_reported()
    {
        torch.manual_seed(1);
        using var source = new SwinTransformerRam(VidtSwinRamTests.Reduced);
        var path = WriteImageNetLayout(source, "swin_reduced_patch4_window5.pth");
        using var backbone = new SwinTransformerRam(VidtSwinRamTests.Reduced);
        var detToken = backbone.state_dict()["det_token"].clone();
        var report = SwinPretrainedWeights.Load(backbone, path);

        var shared = source.state_dict().Keys.Where(k => !ViDtOnly(k)).ToList();
        Assert.Equal(shared.Order(StringComparer.Ordinal), report.Loaded.Order(StringComparer.Ordinal));
        Assert.Equal(backbone.state_dict().Keys.Where(ViDtOnly).Order(StringComparer.Ordinal), report.Missing.Order(StringComparer.Ordinal));
        Assert.Equal(["head.bias", "head.weight", "layers.0.blocks.1.attn_mask", "layers.3.blocks.1.attn_mask", "norm.bias", "norm.weight"],
            report.Unexpected.Order(StringComparer.Ordinal));
        Assert.Empty(report.ShapeMismatches);
        Assert.Contains("det_token", report.Missing);
        Assert.Contains("layers.3.downsample.reduction.weight", report.Missing);
        foreach (var key in new[] { "patch_embed.proj.weight", "layers.2.blocks.0.attn.qkv.weight", "layers.1.downsample.reduction.weight" })
        {
            Assert.True(source.state_dict()[key].eq(backbone.state_dict()[key]).all().item<bool>(), key);
        }
        Assert.True(detToken.eq(backbone.state_dict()["det_token"]).all().item<bool>(), "ViDT's own parameters keep their initialisation");
        Assert.Contains("missing keys", report.Describe());
    }

    [Fact]
    public void Weights_of_another_swin_or_a_detector_checkpoint_are_refused_and_nothing_is_copied()
    {
        using var wider = new SwinTransformerRam(VidtSwinRamTests.Reduced with { EmbedDim = 8, NumHeads = [2, 2, 4, 4] });
        var path = WriteImageNetLayout(wider, "swin_wider.pth");
        using var backbone = new SwinTransformerRam(VidtSwinRamTests.Reduced);
        var before = backbone.state_dict()["layers.0.blocks.0.norm1.weight"].clone();
        var e = Assert.Throws<VidtCheckpointException>(() => SwinPretrainedWeights.Load(backbone, path));
        Assert.Equal("patch_embed.proj.weight", e.Key);
        Assert.Contains("patch_embed.proj.weight: expected [4, 3, 4, 4], found [8, 3, 4, 4]", e.Message);
        Assert.Contains("swin_wider.pth", e.Message);
        Assert.True(before.eq(backbone.state_dict()["layers.0.blocks.0.norm1.weight"]).all().item<bool>());

        var e2 = Assert.Throws<VidtCheckpointException>(() => SwinPretrainedWeights.Load(backbone, VidtTestSupport.FixturePath("vidt_small_weights.pth")));
        Assert.Contains("--resume", e2.Message);
    }
}
