using System.Collections;
using System.IO.Compression;
using Razorvine.Pickle.Objects;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace VkD.Interop.Checkpoints;

/// <summary>
/// The project's single checkpoint reader: PyTorch zip-format files (<c>.pth</c>, <c>.pth.tar</c>, <c>.pt</c>,
/// <c>torch.save</c> since PyTorch 1.6) and <c>.safetensors</c>, through TorchSharp.PyBridge. Bad files (legacy
/// pickles, truncated or random bytes) raise <see cref="CheckpointFormatException"/> naming the file.
/// </summary>
public static class CheckpointReader
{
    // torch.save's legacy (non-zip) format starts with a pickled magic number: PROTO 2, LONG1 of 10 bytes.
    private static readonly byte[] LegacyMagic = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    /// <summary>Reads every entry of the file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="CheckpointFormatException">The file is not a readable checkpoint.</exception>
    public static Checkpoint Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        }
        var owned = new List<Tensor>();
        try
        {
            var format = Sniff(path);
            Dictionary<string, object?> root;
            if (format == Format.Safetensors)
            {
                var tensors = Safetensors.LoadStateDict(path);
                owned.AddRange(tensors.Values);
                root = tensors.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);
            }
            else
            {
                using var stream = File.OpenRead(path);
                var table = TorchZipUnpickler.Load(stream);
                var converted = Convert(table, owned, 0);
                root = converted as Dictionary<string, object?> ?? throw new CheckpointFormatException(path,
                    "the top-level object is a dictionary with non-string keys; expected a state dict or a dict of entries.");
            }
            return new Checkpoint(path, root, owned);
        }
        catch (Exception e) when (e is not CheckpointFormatException and not FileNotFoundException)
        {
            foreach (var t in owned)
            {
                t.Dispose();
            }
            throw new CheckpointFormatException(path, Explain(e), e);
        }
        catch
        {
            foreach (var t in owned)
            {
                t.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Reads the file and returns a flat state dict chosen and renamed by <paramref name="options"/> (entry
    /// unwrapping, <c>module.</c> stripping, prefix selection/exclusion, key map). The caller owns the tensors.
    /// </summary>
    public static Dictionary<string, Tensor> ReadStateDict(string path, StateDictOptions? options = null)
    {
        options ??= new StateDictOptions();
        using var checkpoint = Read(path);
        var source = SelectEntry(checkpoint, options);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (rawKey, tensor) in source)
        {
            var key = Rename(rawKey, options);
            if (key is null)
            {
                continue;
            }
            if (result.ContainsKey(key))
            {
                throw new CheckpointFormatException(path, $"two keys map to '{key}' after renaming (one is '{rawKey}').");
            }
            // Keep a handle that survives the checkpoint's disposal.
            result[key] = tensor.alias();
        }
        return result;
    }

    internal static IReadOnlyDictionary<string, Tensor> SelectEntry(Checkpoint checkpoint, StateDictOptions options)
    {
        if (options.Entry is not null)
        {
            return checkpoint.StateDictEntry(options.Entry);
        }
        if (checkpoint.IsStateDict)
        {
            return Checkpoint.AsStateDict(checkpoint.Entries)!;
        }
        foreach (var name in options.DefaultEntries)
        {
            if (checkpoint.Entries.TryGetValue(name, out var value) && value is not null && Checkpoint.AsStateDict(value) is { } sd)
            {
                return sd;
            }
        }
        throw new CheckpointFormatException(checkpoint.Path,
            $"no state dict found: the file has entries {string.Join(", ", checkpoint.Entries.Select(e => $"'{e.Key}' ({Checkpoint.Describe(e.Value)})"))}; " +
            $"looked for {string.Join(", ", options.DefaultEntries)}. Choose one with StateDictOptions.Entry.");
    }

    internal static string? Rename(string key, StateDictOptions options)
    {
        var stripped = true;
        while (stripped)
        {
            stripped = false;
            foreach (var prefix in options.StripPrefixes)
            {
                if (prefix.Length > 0 && key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    key = key[prefix.Length..];
                    stripped = true;
                }
            }
        }
        if (options.SelectPrefix is { } select)
        {
            if (!key.StartsWith(select, StringComparison.Ordinal))
            {
                return null;
            }
            key = key[select.Length..];
        }
        if (options.ExcludePrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal)))
        {
            return null;
        }
        return options.KeyMap is null ? key : options.KeyMap(key);
    }

    private enum Format
    {
        Zip,
        Safetensors,
    }

    private static Format Sniff(string path)
    {
        var head = new byte[16];
        int n;
        using (var fs = File.OpenRead(path))
        {
            n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        if (n >= 4 && head[0] == 0x50 && head[1] == 0x4b && head[2] == 0x03 && head[3] == 0x04)
        {
            return Format.Zip;
        }
        if (n >= 2 && head[0] == 0x80)
        {
            var legacy = n >= 2 + LegacyMagic.Length && head.AsSpan(2, LegacyMagic.Length).SequenceEqual(LegacyMagic);
            throw new CheckpointFormatException(path, (legacy
                ? "it was written by torch.save in the legacy (non-zip) format, which cannot be read. "
                : "it is a plain Python pickle, not PyTorch's zip container. ") +
                "Re-save it with PyTorch >= 1.6: obj = torch.load(path, map_location='cpu'); " +
                "torch.save(obj, path, _use_new_zipfile_serialization=True).");
        }
        if (n >= 9 && head[8] == (byte)'{')
        {
            var headerLength = BitConverter.ToUInt64(head, 0);
            if (headerLength < (ulong)new FileInfo(path).Length)
            {
                return Format.Safetensors;
            }
        }
        throw new CheckpointFormatException(path, n == 0
            ? "the file is empty."
            : $"unknown format (first bytes {System.Convert.ToHexString(head, 0, Math.Min(n, 8))}); expected a PyTorch zip checkpoint (torch.save) or a .safetensors file.");
    }

    private static string Explain(Exception e) => e switch
    {
        InvalidDataException => $"the zip container is truncated or corrupt ({e.Message}).",
        EndOfStreamException => "the file ends early (truncated).",
        NotImplementedException when e.Message.Contains("entire model", StringComparison.Ordinal) =>
            "it holds a pickled nn.Module, not a state dict; re-save with torch.save(model.state_dict(), path).",
        InvalidOperationException when e.Message.Contains("Sequence contains no", StringComparison.Ordinal) =>
            "the zip container has no data.pkl or is missing tensor data (not a torch.save file, or truncated).",
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>Turns the unpickler's Hashtables/ArrayLists/ClassDicts into dictionaries and lists, recording tensors.</summary>
    /// <summary>Deepest nesting of containers a checkpoint may have: real ones nest a handful of levels; a crafted
    /// pickle nesting thousands (or a list that contains itself) would otherwise overflow the stack and abort the
    /// process.</summary>
    public const int MaxNesting = 128;

    private static object? Convert(object? value, List<Tensor> owned, int depth)
    {
        if (depth > MaxNesting && value is ClassDict or IDictionary or object[] or IList)
        {
            throw new InvalidDataException($"it nests containers more than {MaxNesting} levels deep (or a container holds itself); no checkpoint does.");
        }
        switch (value)
        {
            case Tensor t:
                owned.Add(t);
                return t;
            case ClassDict cd:
                {
                    var d = new Dictionary<string, object?>(StringComparer.Ordinal);
                    foreach (var (k, v) in cd)
                    {
                        if (k != "__class__")
                        {
                            d[k] = Convert(v, owned, depth + 1);
                        }
                    }
                    return d;
                }
            case IDictionary dict:
                {
                    var allStrings = dict.Keys.Cast<object?>().All(k => k is string);
                    if (allStrings)
                    {
                        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
                        foreach (DictionaryEntry e in dict)
                        {
                            d[(string)e.Key] = Convert(e.Value, owned, depth + 1);
                        }
                        return d;
                    }
                    var o = new Dictionary<object, object?>();
                    foreach (DictionaryEntry e in dict)
                    {
                        o[e.Key] = Convert(e.Value, owned, depth + 1);
                    }
                    return o;
                }
            case string s:
                return s;
            case object[] tuple:
                return tuple.Select(v => Convert(v, owned, depth + 1)).ToList();
            case IList list:
                return list.Cast<object?>().Select(v => Convert(v, owned, depth + 1)).ToList();
            default:
                return value;
        }
    }
}
