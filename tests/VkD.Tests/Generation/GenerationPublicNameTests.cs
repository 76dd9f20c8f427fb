namespace VkD.Tests.Generation;

/// <summary>VkD.Generation's public types must not share a simple name with TorchSharp's (CS0104 in user code that
/// imports both), as the other assemblies are checked in Infrastructure/PublicNameTests.</summary>
public sealed class GenerationPublicNameTests
{
    [Fact]
    public void No_public_type_of_VkD_Generation_shares_a_simple_name_with_TorchSharp()
    {
        var torchSharp = typeof(TorchSharp.torch).Assembly.GetExportedTypes()
            .Select(t => t.Name.Split('`')[0]).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("Generator", torchSharp);
        var clashes = typeof(VkD.Generation.Models.BigGanGenerator).Assembly.GetExportedTypes()
            .Where(t => !t.IsNested && torchSharp.Contains(t.Name.Split('`')[0]))
            .Select(t => t.FullName).ToList();
        Assert.True(clashes.Count == 0, "public types that clash with TorchSharp's names: " + string.Join(", ", clashes));
    }
}
