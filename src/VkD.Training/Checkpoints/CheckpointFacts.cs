using System.Globalization;
using System.Text.Json;
using VkD.Interop.Checkpoints;

namespace VkD.Training.Checkpoints;

/// <summary>
/// What a checkpoint says about the model it holds, so <c>vkd eval</c> and <c>vkd export</c> need no flags for it:
/// the zoo name, input size, channels and classes, from the checkpoint's own entries (VkD.NET training checkpoints)
/// or from the JSON sidecar the trainer writes next to plain weight files (<c>model.pth</c> → <c>model.json</c>).
/// </summary>
/// <param name="Model">Zoo name, if recorded.</param>
/// <param name="InputSize">Input side in pixels, if recorded.</param>
/// <param name="InChannels">Input channels, if recorded.</param>
/// <param name="NumClasses">Classes of the head, if recorded.</param>
public sealed record CheckpointFacts(string? Model, int? InputSize, int? InChannels, int? NumClasses)
{
    /// <summary>The sidecar of <paramref name="weightsPath"/> (same name, <c>.json</c>).</summary>
    public static string SidecarOf(string weightsPath) => Path.ChangeExtension(weightsPath, ".json");

    /// <summary>Reads the facts of <paramref name="path"/>; missing facts are null.</summary>
    public static CheckpointFacts Read(string path)
    {
        using var checkpoint = CheckpointReader.Read(path);
        var e = checkpoint.Entries;
        var facts = new CheckpointFacts(e.GetValueOrDefault("model") as string, Int(e.GetValueOrDefault("input_size")),
            Int(e.GetValueOrDefault("in_chans")), Int(e.GetValueOrDefault("num_classes")));
        var sidecar = SidecarOf(path);
        if (facts.Model is null && File.Exists(sidecar))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(sidecar));
                var root = doc.RootElement;
                facts = new CheckpointFacts(
                    root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null,
                    JsonInt(root, "input_size"), JsonInt(root, "in_chans"), JsonInt(root, "num_classes"));
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"'{sidecar}' (the description of '{path}') is not valid JSON: {ex.Message}", ex);
            }
        }
        return facts;
    }

    private static int? Int(object? value) => value is long or int ? Convert.ToInt32(value, CultureInfo.InvariantCulture) : null;

    private static int? JsonInt(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;
}
