using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// The stages a map method taps when none are given: the stage modules of the zoo's families by their module names —
/// <c>layer1..</c> (ResNets, the CIFAR ResNets), <c>s1..</c> (RegNets), <c>layers.0..</c> (Swin), <c>blocks.0..</c>
/// (ViTs) — in order, and an evenly spaced choice of them that ends at the last stage.
/// </summary>
public static partial class DefaultTaps
{
    [GeneratedRegex(@"^(layer|s|layers\.|blocks\.)(\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex StagePattern();

    /// <summary>The stage module paths of <paramref name="model"/>, in order (empty when it has none of the families').</summary>
    public static IReadOnlyList<string> Stages(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var matches = model.named_modules()
            .Select(m => StagePattern().Match(m.name))
            .Where(m => m.Success)
            .Select(m => (Family: m.Groups[1].Value, Index: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), Path: m.Value))
            .ToList();
        string[] preference = ["layer", "s", "layers.", "blocks."];
        var family = preference.FirstOrDefault(f => matches.Any(m => m.Family == f));
        return family is null ? [] : [.. matches.Where(m => m.Family == family).OrderBy(m => m.Index).Select(m => m.Path)];
    }

    /// <summary><paramref name="count"/> of <paramref name="stages"/>, evenly spaced and ending at the last
    /// (3 of 6 blocks: 1, 3, 5; 3 of 3 stages: all).</summary>
    public static IReadOnlyList<string> Pick(IReadOnlyList<string> stages, int count)
    {
        ArgumentNullException.ThrowIfNull(stages);
        if (count <= 0 || count > stages.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Cannot pick {count} of {stages.Count} stages.");
        }
        return [.. Enumerable.Range(0, count).Select(i => stages[(int)Math.Round((i + 1.0) * stages.Count / count, MidpointRounding.AwayFromZero) - 1])];
    }
}
