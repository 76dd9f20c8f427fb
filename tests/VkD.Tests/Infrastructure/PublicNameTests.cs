using System.Reflection;

namespace VkD.Tests.Infrastructure;

/// <summary>
/// User code imports TorchSharp's namespaces next to ours; a public type of ours with the same simple name as one of
/// TorchSharp's makes every such file fail with CS0104 (ambiguous reference). Once AdamW, ParamGroup and DataLoader did.
/// </summary>
public sealed class PublicNameTests
{
    private static readonly Assembly[] Ours =
    [
        typeof(VkD.Data.Loading.BatchLoader).Assembly,
        typeof(VkD.Training.Optim.AdamWOptimizer).Assembly,
        typeof(VkD.Distillation.Distiller.FeatureDistiller).Assembly,
        typeof(VkD.Models.ModelRegistry).Assembly,
        typeof(VkD.Interop.Checkpoints.CheckpointFormatException).Assembly,
        typeof(VkD.Detection.Evaluation.CocoEvaluator).Assembly,
    ];

    [Fact]
    public void NoPublicTypeSharesASimpleNameWithTorchSharp()
    {
        var torchSharp = typeof(TorchSharp.torch).Assembly.GetExportedTypes()
            .Select(t => t.Name.Split('`')[0]).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("AdamW", torchSharp);
        Assert.Contains("DataLoader", torchSharp);
        var clashes = Ours.Distinct().SelectMany(a => a.GetExportedTypes())
            .Where(t => !t.IsNested && torchSharp.Contains(t.Name.Split('`')[0]))
            .Select(t => t.FullName).ToList();
        Assert.True(clashes.Count == 0, "public types that clash with TorchSharp's names: " + string.Join(", ", clashes));
    }
}
