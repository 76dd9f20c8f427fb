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
    /// <summary>Per-channel input mean on the [0, 1] scale the model was trained with, if recorded.</summary>
    public IReadOnlyList<double>? Mean { get; init; }

    /// <summary>Per-channel input std paired with <see cref="Mean"/>.</summary>
    public IReadOnlyList<double>? Std { get; init; }

    /// <summary>Class names of the head's outputs, in order, if recorded.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>The sidecar of <paramref name="weightsPath"/> (same name, <c>.json</c>).</summary>
    public static string SidecarOf(string weightsPath) => Path.ChangeExtension(weightsPath, ".json");

    /// <summary>Reads the facts of <paramref name="path"/>; missing facts are null.</summary>
    public static CheckpointFacts Read(string path)
    {
        using var checkpoint = CheckpointReader.Read(path);
        var e = checkpoint.Entries;
        var facts = new CheckpointFacts(e.GetValueOrDefault("model") as string, Int(e.GetValueOrDefault("input_size")),
            Int(e.GetValueOrDefault("in_chans")), Int(e.GetValueOrDefault("num_classes")))
        {
            Mean = Doubles(e.GetValueOrDefault("mean")),
            Std = Doubles(e.GetValueOrDefault("std")),
            ClassNames = Strings(e.GetValueOrDefault("class_names")),
        };
        var sidecar = SidecarOf(path);
        if (facts.Model is null && File.Exists(sidecar))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(sidecar));
                var root = doc.RootElement;
                facts = new CheckpointFacts(
                    root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null,
                    JsonInt(root, "input_size"), JsonInt(root, "in_chans"), JsonInt(root, "num_classes"))
                {
                    Mean = JsonDoubles(root, "mean"),
                    Std = JsonDoubles(root, "std"),
                    ClassNames = JsonStrings(root, "class_names"),
                };
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"'{sidecar}' (the description of '{path}') is not valid JSON: {ex.Message}", ex);
            }
        }
        return facts;
    }

    private static int? Int(object? value) => value is long or int ? Convert.ToInt32(value, CultureInfo.InvariantCulture) : null;

    // Lists of the wrong element type are treated as not recorded: a stranger's checkpoint may use the same key.
    private static IReadOnlyList<double>? Doubles(object? value) =>
        value is IEnumerable<object?> list && list.ToList() is { Count: > 0 } items && items.All(v => v is double or long)
            ? items.Select(v => Convert.ToDouble(v, CultureInfo.InvariantCulture)).ToList() : null;

    private static IReadOnlyList<string>? Strings(object? value) =>
        value is IEnumerable<object?> list && list.ToList() is { Count: > 0 } items && items.All(v => v is string)
            ? items.Cast<string>().ToList() : null;

    private static IReadOnlyList<double>? JsonDoubles(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number)
            ? v.EnumerateArray().Select(x => x.GetDouble()).ToList() : null;

    private static IReadOnlyList<string>? JsonStrings(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String)
            ? v.EnumerateArray().Select(x => x.GetString()!).ToList() : null;

    private static int? JsonInt(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;
}
