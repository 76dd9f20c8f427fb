using System.Globalization;
using System.Reflection;
using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace VkD.Training.Options;

/// <summary>
/// Reads options from a YAML or JSON file (a flat mapping of option name → value) and applies them to
/// <see cref="TrainingOptions"/>. Names may be written as the flag (<c>min-lr</c>), in snake case (<c>min_lr</c>, as the
/// reference's <c>params.yaml</c>) or as the property (<c>MinLr</c>). Command-line flags are applied afterwards, so they
/// win. Unknown names are an error, so a typo never silently falls back to a default.
/// </summary>
public static class ConfigFile
{
    private static readonly Dictionary<string, PropertyInfo> Properties = typeof(TrainingOptions)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        // Flags are scalars; list-valued options (a checkpoint's recorded normalisation) are set from code only.
        .Where(p => p.CanWrite && (p.PropertyType == typeof(string) || p.PropertyType == typeof(bool) || p.PropertyType == typeof(int) || p.PropertyType == typeof(double)))
        .ToDictionary(p => Normalise(p.Name));

    /// <summary>Aliases the reference uses for the same settings.</summary>
    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["model"] = "studentmodel",
        ["outputdir"] = "outputdir",
        ["output"] = "outputdir",
    };

    /// <summary>Parses <paramref name="path"/> (YAML for .yaml/.yml, otherwise JSON) into name → raw value.</summary>
    public static Dictionary<string, object?> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Config file '{path}' does not exist.", path);
        }
        var text = File.ReadAllText(path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        try
        {
            return ext is ".yaml" or ".yml" ? ReadYaml(text, path) : ReadJson(text, path);
        }
        catch (Exception e) when (e is JsonException or YamlDotNet.Core.YamlException)
        {
            throw new InvalidDataException($"Config file '{path}' is not valid {(ext is ".yaml" or ".yml" ? "YAML" : "JSON")}: {e.Message}", e);
        }
    }

    /// <summary>Applies <paramref name="values"/> to <paramref name="options"/>; <paramref name="source"/> names the file in errors.</summary>
    public static void Apply(TrainingOptions options, IReadOnlyDictionary<string, object?> values, string source)
    {
        foreach (var (name, raw) in values)
        {
            var key = Normalise(name);
            if (Aliases.TryGetValue(key, out var alias))
            {
                key = alias;
            }
            if (!Properties.TryGetValue(key, out var prop))
            {
                throw new InvalidDataException($"{source}: unknown option '{name}'. Known options: {string.Join(", ", Properties.Values.Select(p => FlagName(p.Name)))}.");
            }
            prop.SetValue(options, Convert(raw, prop.PropertyType, name, source));
        }
    }

    /// <summary>The resolved options as flag name → value, for the run's config.json.</summary>
    public static SortedDictionary<string, object?> ToFlags(TrainingOptions options)
    {
        var result = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in Properties.Values)
        {
            result[FlagName(p.Name)] = p.GetValue(options);
        }
        return result;
    }

    /// <summary>Kebab-case flag for a property name (<c>MinLr</c> → <c>min-lr</c>).</summary>
    public static string FlagName(string propertyName)
    {
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < propertyName.Length; i++)
        {
            var c = propertyName[i];
            if (char.IsUpper(c) && i > 0)
            {
                sb.Append('-');
            }
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    private static string Normalise(string name) => name.Replace("-", "").Replace("_", "").ToLowerInvariant();

    private static object Convert(object? raw, Type type, string name, string source)
    {
        var text = raw switch
        {
            null => "",
            JsonElement { ValueKind: JsonValueKind.String } j => j.GetString() ?? "",
            JsonElement j => j.GetRawText(),
            _ => System.Convert.ToString(raw, CultureInfo.InvariantCulture) ?? "",
        };
        try
        {
            if (type == typeof(string))
            {
                return text;
            }
            if (type == typeof(bool))
            {
                return text.Trim().ToLowerInvariant() switch
                {
                    "true" or "yes" or "on" or "1" => true,
                    "false" or "no" or "off" or "0" or "" => false,
                    _ => throw new FormatException($"'{text}' is not a boolean"),
                };
            }
            if (type == typeof(int))
            {
                return int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
            }
            if (type == typeof(double))
            {
                return text.Trim().ToLowerInvariant() is "none" or "null" or "" ? 0.0 : double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new InvalidDataException($"{source}: option '{name}' expects {type.Name}, got '{text}' ({e.Message}).", e);
        }
        throw new InvalidOperationException($"Unsupported option type {type.Name} for '{name}'.");
    }

    private static Dictionary<string, object?> ReadJson(string text, string path)
    {
        using var doc = JsonDocument.Parse(text);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Config file '{path}' must hold one JSON object of option → value.");
        }
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
    }

    private static Dictionary<string, object?> ReadYaml(string text, string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        var result = new Dictionary<string, object?>();
        if (stream.Documents.Count == 0)
        {
            return result;
        }
        if (stream.Documents[0].RootNode is not YamlMappingNode map)
        {
            throw new InvalidDataException($"Config file '{path}' must hold one YAML mapping of option → value.");
        }
        foreach (var (k, v) in map.Children)
        {
            if (v is not YamlScalarNode scalar)
            {
                throw new InvalidDataException($"Config file '{path}': option '{k}' must be a single value.");
            }
            result[((YamlScalarNode)k).Value ?? ""] = scalar.Value;
        }
        return result;
    }
}
