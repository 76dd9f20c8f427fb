using System.Collections;
using static TorchSharp.torch;

namespace VkD.Interop.Checkpoints;

/// <summary>
/// The top-level entries of a checkpoint file: tensors, nested dictionaries (<see cref="Dictionary{TKey,TValue}"/> with
/// string keys, or object keys when the file used non-string keys such as optimizer parameter ids), lists, numbers,
/// strings, bools, null, and Python objects as their attribute dictionary (e.g. <c>argparse.Namespace</c>).
/// Owns every tensor it holds: dispose it (or take the tensors you keep with <see cref="DetachTensors"/>).
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly List<Tensor> _owned;
    private bool _disposed;

    internal Checkpoint(string path, Dictionary<string, object?> entries, List<Tensor> owned)
    {
        Path = path;
        Entries = entries;
        _owned = owned;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The root entries (for a plain state dict: key → tensor).</summary>
    public IReadOnlyDictionary<string, object?> Entries { get; }

    /// <summary>True when the root is a flat state dict (every value a tensor).</summary>
    public bool IsStateDict => Entries.Count > 0 && Entries.Values.All(v => v is Tensor);

    /// <summary>The entry <paramref name="name"/> as a flat state dict.</summary>
    /// <exception cref="KeyNotFoundException">No such entry, or it is not a dictionary of tensors (the message lists
    /// the entries).</exception>
    public IReadOnlyDictionary<string, Tensor> StateDictEntry(string name)
    {
        if (!Entries.TryGetValue(name, out var value))
        {
            throw new KeyNotFoundException($"Checkpoint '{Path}' has no entry '{name}' (entries: {string.Join(", ", Entries.Keys)}).");
        }
        if (value is null)
        {
            // The reference writes student_ema = None when the run kept no EMA: the entry is there, and empty.
            throw new KeyNotFoundException($"Entry '{name}' of checkpoint '{Path}' is None: the run that wrote it kept no such weights"
                + (name.EndsWith("_ema", StringComparison.Ordinal) ? " (it was trained without --student-ema); evaluate without --ema." : "."));
        }
        return AsStateDict(value) ?? throw new KeyNotFoundException(
            $"Entry '{name}' of checkpoint '{Path}' is not a dictionary of tensors (it is {Describe(value)}).");
    }

    /// <summary>Stops owning the tensors, so disposing the checkpoint no longer frees them.</summary>
    public void DetachTensors() => _owned.Clear();

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var t in _owned)
        {
            t.Dispose();
        }
        _owned.Clear();
    }

    internal static IReadOnlyDictionary<string, Tensor>? AsStateDict(object value)
    {
        if (value is not IDictionary dict)
        {
            return null;
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in dict)
        {
            if (e.Key is not string key || e.Value is not Tensor t)
            {
                return null;
            }
            result[key] = t;
        }
        return result;
    }

    internal static string Describe(object? value) => value switch
    {
        null => "null",
        Tensor t => $"a tensor [{string.Join(", ", t.shape)}]",
        IDictionary d => $"a dictionary with {d.Count} entries",
        string s => $"the string \"{s}\"",
        _ => $"a {value.GetType().Name}",
    };
}
