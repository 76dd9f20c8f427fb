using System.Globalization;

namespace VkD.Distillation.Methods;

/// <summary>
/// A method's hyper-parameters as written on the command line or in a config file: <c>key=value</c> pairs separated
/// by commas (<c>k=4096,feat_dim=128</c>). Each method reads the keys it knows, with its published value as the
/// default, and refuses the others, so a typo never silently falls back to a default.
/// </summary>
public sealed class MethodOptions
{
    private readonly Dictionary<string, string> _values;

    private MethodOptions(Dictionary<string, string> values)
    {
        _values = values;
    }

    /// <summary>No options: every method at its published defaults.</summary>
    public static MethodOptions Empty { get; } = new(new Dictionary<string, string>(StringComparer.Ordinal));

    /// <summary>The keys given.</summary>
    public IEnumerable<string> Keys => _values.Keys;

    /// <summary>Parses <c>key=value[,key=value...]</c>; blank text gives <see cref="Empty"/>.</summary>
    /// <exception cref="ArgumentException">An entry is not <c>key=value</c> or a key repeats.</exception>
    public static MethodOptions Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Empty;
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == entry.Length - 1)
            {
                throw new ArgumentException($"--method-options '{text}': '{entry}' is not key=value.");
            }
            var key = entry[..eq].Trim().Replace('-', '_').ToLowerInvariant();
            if (!values.TryAdd(key, entry[(eq + 1)..].Trim()))
            {
                throw new ArgumentException($"--method-options '{text}': '{key}' is given twice.");
            }
        }
        return new MethodOptions(values);
    }

    /// <summary>Refuses keys outside <paramref name="known"/>.</summary>
    /// <exception cref="ArgumentException">The message names the method, the unknown keys and the known ones.</exception>
    public void RequireKnown(string method, IReadOnlyCollection<string> known)
    {
        ArgumentNullException.ThrowIfNull(known);
        var unknown = _values.Keys.Where(k => !known.Contains(k)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException(known.Count == 0
                ? $"--distill-method {method} takes no --method-options (got {string.Join(", ", unknown)})."
                : $"--method-options: {string.Join(", ", unknown)} {(unknown.Length == 1 ? "is" : "are")} not an option of --distill-method {method}; its options are {string.Join(", ", known)}.");
        }
    }

    /// <summary>The number under <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
    public double Double(string key, double fallback) => _values.TryGetValue(key, out var v)
        ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
            ? d
            : throw new ArgumentException($"--method-options {key}={v}: expected a finite number.")
        : fallback;

    /// <summary>The integer under <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
    public int Int(string key, int fallback) => _values.TryGetValue(key, out var v)
        ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)
            ? i
            : throw new ArgumentException($"--method-options {key}={v}: expected an integer.")
        : fallback;

    /// <summary>The boolean under <paramref name="key"/> (true/false, yes/no, 1/0), or <paramref name="fallback"/>.</summary>
    public bool Bool(string key, bool fallback) => _values.TryGetValue(key, out var v)
        ? v.ToLowerInvariant() switch
        {
            "true" or "yes" or "1" => true,
            "false" or "no" or "0" => false,
            _ => throw new ArgumentException($"--method-options {key}={v}: expected true or false."),
        }
        : fallback;

    /// <inheritdoc />
    public override string ToString() => string.Join(",", _values.Select(kv => $"{kv.Key}={kv.Value}"));
}
