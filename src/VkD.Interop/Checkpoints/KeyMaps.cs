using System.Text.RegularExpressions;

namespace VkD.Interop.Checkpoints;

/// <summary>
/// Key renamings for checkpoints whose names differ from the zoo's (which equal timm/torchvision's).
/// Files that need none: timm and DeiT-repo ViT/DeiT files, timm RegNet files including the original DeiT teacher
/// <c>regnety_160-a5fe301d.pth</c> (timm 0.3 used the same names; its tensors sit under <c>model</c>), torchvision
/// ResNets, VkD student checkpoints (<c>student</c> + <c>module.</c>, handled by <see cref="StateDictOptions"/>).
/// </summary>
public static partial class KeyMaps
{
    private static readonly (string From, string To)[] PyclsReplacements =
    [
        ("f.a.0", "conv1.conv"), ("f.a.1", "conv1.bn"), ("f.b.0", "conv2.conv"), ("f.b.1", "conv2.bn"),
        ("f.final_bn", "conv3.bn"), ("f.se.excitation.0", "se.fc1"), ("f.se.excitation.2", "se.fc2"), ("f.se", "se"),
        ("f.c.0", "conv3.conv"), ("f.c.1", "conv3.bn"), ("f.c", "conv3.conv"),
        ("proj.0", "downsample.conv"), ("proj.1", "downsample.bn"), ("proj", "downsample.conv"),
    ];

    /// <summary>
    /// torchvision <c>regnet_y_*</c> names → timm names (timm's <c>_filter_fn</c>): <c>stem.0</c> → <c>stem.conv</c>,
    /// <c>trunk_output.block{i}.block{i}-{j}</c> → <c>s{i}.b{j+1}</c>, <c>f.a.0</c> → <c>conv1.conv</c>, …,
    /// <c>fc.</c> → <c>head.fc.</c>. Note torchvision's 800MF/8GF widths round differently (timm's <c>_tv</c> configs).
    /// </summary>
    public static string? TorchvisionRegNet(string key)
    {
        key = key.Replace("stem.0", "stem.conv", StringComparison.Ordinal).Replace("stem.1", "stem.bn", StringComparison.Ordinal);
        key = TrunkBlock().Replace(key, m => $"s{m.Groups[1].Value}.b{int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) + 1}");
        foreach (var (from, to) in PyclsReplacements)
        {
            key = key.Replace(from, to, StringComparison.Ordinal);
        }
        return key.StartsWith("fc.", StringComparison.Ordinal) ? "head." + key : key;
    }

    /// <summary>Chains renamings left to right; a null from any step drops the key.</summary>
    public static Func<string, string?> Chain(params Func<string, string?>[] maps) => key =>
    {
        string? k = key;
        foreach (var map in maps)
        {
            if (k is null)
            {
                return null;
            }
            k = map(k);
        }
        return k;
    };

    [GeneratedRegex(@"trunk_output\.block(\d+)\.block(\d+)-(\d+)")]
    private static partial Regex TrunkBlock();
}
