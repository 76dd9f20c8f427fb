using System.Text;

namespace VkD.Interop.Checkpoints;

/// <summary>A key whose tensor shape differs between the model and the checkpoint.</summary>
/// <param name="Name">State-dict key.</param>
/// <param name="Expected">Shape in the model.</param>
/// <param name="Found">Shape in the checkpoint.</param>
public sealed record ShapeMismatch(string Name, long[] Expected, long[] Found)
{
    /// <inheritdoc />
    public override string ToString() => $"{Name}: expected [{string.Join(", ", Expected)}], found [{string.Join(", ", Found)}]";
}

/// <summary>
/// Outcome of loading a state dict into a module (PyTorch's <c>_IncompatibleKeys</c> plus shape mismatches).
/// A strict load throws <see cref="CheckpointMismatchException"/> unless <see cref="IsExact"/>; a non-strict load
/// copies every matching tensor and returns this report, whose <see cref="Describe"/> is the warning to show.
/// </summary>
/// <param name="Loaded">Keys copied into the module.</param>
/// <param name="Missing">Module keys absent from the checkpoint.</param>
/// <param name="Unexpected">Checkpoint keys the module does not have.</param>
/// <param name="ShapeMismatches">Keys present on both sides with different shapes (not copied).</param>
public sealed record LoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<ShapeMismatch> ShapeMismatches)
{
    /// <summary>Keys of derived buffers (<see cref="VkD.Models.IDerivedBuffers"/>) whose values in the checkpoint
    /// differ from the model's (not copied).</summary>
    public IReadOnlyList<string> ValueMismatches { get; init; } = [];

    /// <summary>True when every key matched with the same shape (and derived buffers with the same values).</summary>
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0 && ValueMismatches.Count == 0;

    /// <summary>Multi-line description of the problems ("no problems" when exact).</summary>
    public string Describe()
    {
        if (IsExact)
        {
            return $"all {Loaded.Count} keys matched";
        }
        var sb = new StringBuilder();
        sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"loaded {Loaded.Count} keys");
        if (Missing.Count > 0)
        {
            sb.AppendLine().Append(System.Globalization.CultureInfo.InvariantCulture, $"missing keys ({Missing.Count}): {string.Join(", ", Missing)}");
        }
        if (Unexpected.Count > 0)
        {
            sb.AppendLine().Append(System.Globalization.CultureInfo.InvariantCulture, $"unexpected keys ({Unexpected.Count}): {string.Join(", ", Unexpected)}");
        }
        if (ShapeMismatches.Count > 0)
        {
            sb.AppendLine().Append(System.Globalization.CultureInfo.InvariantCulture, $"shape mismatches ({ShapeMismatches.Count}): {string.Join("; ", ShapeMismatches)}");
        }
        if (ValueMismatches.Count > 0)
        {
            sb.AppendLine().Append(System.Globalization.CultureInfo.InvariantCulture,
                $"buffers that differ from the model's (built for another window or image size?) ({ValueMismatches.Count}): {string.Join(", ", ValueMismatches)}");
        }
        return sb.ToString();
    }
}
