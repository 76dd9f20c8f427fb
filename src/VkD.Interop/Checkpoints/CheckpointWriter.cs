using System.Collections;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace VkD.Interop.Checkpoints;

/// <summary>
/// Writes checkpoints PyTorch reads with <c>torch.load</c> (zip format, the keys given), atomically: the file is
/// written next to the target under a temporary name and renamed over it, so a crash never leaves a half-written
/// checkpoint.
/// </summary>
public static class CheckpointWriter
{
    /// <summary>
    /// Writes <paramref name="entries"/>: values may be tensors, nested dictionaries (string or integer keys), lists,
    /// ints/longs, doubles/floats, strings, bools and null, nested to any depth, e.g.
    /// <c>{"student": {...}, "student_ema": {...}, "optimizer": {...}, "epoch": 3, "args": {...}}</c>.
    /// Tensors are written as contiguous CPU copies.
    /// </summary>
    /// <exception cref="ArgumentException">A value of another type (the message gives its path).</exception>
    public static void Write(string path, IDictionary<string, object?> entries)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(entries);
        var full = System.IO.Path.GetFullPath(path);
        var folder = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        var copies = new List<Tensor>();
        var temp = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var root = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (k, v) in entries)
            {
                root[k] = ToPicklable(v, k, copies);
            }
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                PyTorchPickler.PickleStateDict(stream, root, leaveOpen: true);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
            foreach (var t in copies)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>Writes a flat state dict (e.g. <c>module.state_dict()</c>) with its keys.</summary>
    public static void WriteStateDict(string path, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        Write(path, stateDict.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal));
    }

    private static object? ToPicklable(object? value, string where, List<Tensor> copies)
    {
        switch (value)
        {
            case null:
            case string:
            case bool:
            case int:
            case long:
            case double:
                return value;
            case float f:
                return (double)f;
            case short or byte or sbyte or ushort or uint:
                return System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            case Tensor t:
                {
                    // A fresh contiguous CPU tensor: storage offset 0, strides PyTorch can rebuild, no autograd.
                    // The detached and contiguous intermediates are handles of their own: a scope frees them,
                    // or every save would leave two native tensors per entry to the garbage collector.
                    using var noGrad = no_grad();
                    using var scope = NewDisposeScope();
                    var copy = t.detach().cpu().contiguous().clone().MoveToOuterDisposeScope();
                    copies.Add(copy);
                    return copy;
                }
            case IDictionary dict:
                {
                    var d = new Dictionary<object, object?>();
                    foreach (DictionaryEntry e in dict)
                    {
                        if (e.Key is not (string or int or long))
                        {
                            throw new ArgumentException($"Checkpoint entry '{where}' has a key of type {e.Key.GetType().Name}; keys must be strings or integers.");
                        }
                        d[e.Key] = ToPicklable(e.Value, $"{where}.{e.Key}", copies);
                    }
                    return d;
                }
            case IEnumerable list:
                {
                    var l = new ArrayList();
                    var i = 0;
                    foreach (var item in list)
                    {
                        l.Add(ToPicklable(item, $"{where}[{i++}]", copies));
                    }
                    return l;
                }
            default:
                throw new ArgumentException(
                    $"Checkpoint entry '{where}' is a {value.GetType().Name}; supported: tensors, dictionaries, lists, integers, doubles, strings, bools, null.");
        }
    }
}
