using System.Collections;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace VkD.Interop.Checkpoints;

/// <summary>
/// Unpickles the <c>data.pkl</c> of a PyTorch zip checkpoint and rebuilds tensors from their storages with the
/// stored offset and strides. PyBridge's own reader assumes every tensor is a contiguous view starting at its
/// storage's beginning; that fails for e.g. the QR-derived <c>parametrizations.weight.0.base</c> of the VkD
/// projector (column-major) and for tensors sharing one storage. Storages are read once and shared.
/// </summary>
internal sealed class TorchZipUnpickler : Unpickler
{
    private static readonly string[] RebuildNames = ["_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter"];

    private readonly ZipArchive _archive;
    private readonly string _prefix;
    private readonly Dictionary<string, Tensor> _storages = new(StringComparer.Ordinal);

    static TorchZipUnpickler()
    {
        // Razorvine keeps constructors in one static table that PyBridge fills in its static constructor. Run that
        // first, then wrap its tensor constructors: our storages take our path, anything else keeps PyBridge's.
        RuntimeHelpers.RunClassConstructor(typeof(PyTorchUnpickler).TypeHandle);
        foreach (var name in RebuildNames)
        {
            objectConstructors.TryGetValue("torch._utils." + name, out var previous);
            registerConstructor("torch._utils", name, new RebuildConstructor(name, previous));
        }
    }

    private TorchZipUnpickler(ZipArchive archive, string prefix)
    {
        _archive = archive;
        _prefix = prefix;
    }

    /// <summary>Reads the root object of the checkpoint in <paramref name="stream"/> (left open).</summary>
    public static object Load(Stream stream)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        var pkl = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
            ?? throw new InvalidDataException("the zip container has no data.pkl (not written by torch.save).");
        var prefix = pkl.FullName[..^"data.pkl".Length];
        var unpickler = new TorchZipUnpickler(archive, prefix);
        try
        {
            if (pkl.Length > MaxPickleBytes)
            {
                throw new InvalidDataException($"data.pkl is {pkl.Length} bytes, more than the {MaxPickleBytes} a checkpoint's object tree can need.");
            }
            using var data = new MemoryStream(ReadVerified(pkl));
            return unpickler.load(data);
        }
        finally
        {
            // Tensors built from a storage are views or copies that keep their own reference.
            foreach (var s in unpickler._storages.Values)
            {
                s.Dispose();
            }
            unpickler.close();
        }
    }

    /// <summary>Largest data.pkl read: the object tree of the largest real checkpoints is a few MB; tensors live
    /// outside it.</summary>
    public const long MaxPickleBytes = 256L << 20;

    // The zip stores a CRC-32 of every entry, which neither PyTorch nor .NET's reader checks: a flipped byte would load
    // as silently different weights. Checking it turns damage into an error naming the entry.
    private static byte[] ReadVerified(ZipArchiveEntry entry)
    {
        var bytes = new byte[entry.Length];
        using (var s = entry.Open())
        {
            s.ReadExactly(bytes);
        }
        var crc = System.IO.Hashing.Crc32.HashToUInt32(bytes);
        if (crc != entry.Crc32)
        {
            throw new InvalidDataException($"entry '{entry.FullName}' is damaged: its CRC-32 is {crc:x8}, the zip records {entry.Crc32:x8}.");
        }
        return bytes;
    }

    protected override object persistentLoad(object pid)
    {
        var tuple = (object[])pid;
        if (tuple.Length < 5 || tuple[0] as string != "storage")
        {
            throw new InvalidDataException("unknown persistent id in data.pkl (not a torch storage).");
        }
        var typeName = tuple[1] switch
        {
            ClassDictConstructor c => c.name,
            string s => s,
            _ => throw new InvalidDataException($"unknown storage type {tuple[1]}."),
        };
        var key = (string)tuple[2];
        var numel = System.Convert.ToInt64(tuple[4], System.Globalization.CultureInfo.InvariantCulture);
        if (!_storages.TryGetValue(key, out var storage))
        {
            var entry = _archive.GetEntry($"{_prefix}data/{key}")
                ?? throw new InvalidDataException($"tensor data '{_prefix}data/{key}' is missing from the zip container (truncated file?).");
            var dtype = DTypeOf(typeName);
            long elementSize;
            using (var probe = empty(0, dtype))
            {
                elementSize = probe.ElementSize;
            }
            // Checked before allocating: a crafted element count would otherwise ask libtorch for terabytes.
            if (numel < 0 || entry.Length != numel * elementSize)
            {
                throw new InvalidDataException($"tensor data '{entry.FullName}' has {entry.Length} bytes, expected {numel} elements of {elementSize} bytes.");
            }
            storage = empty(numel, dtype);
            var bytes = ReadVerified(entry);
            if (bytes.LongLength != numel * storage.ElementSize)
            {
                throw new InvalidDataException($"tensor data '{key}' has {bytes.LongLength} bytes, expected {numel * storage.ElementSize}.");
            }
            storage.bytes = bytes;
            _storages[key] = storage;
        }
        return new StorageRef(storage);
    }

    private static ScalarType DTypeOf(string storage) => storage switch
    {
        "DoubleStorage" => float64,
        "FloatStorage" => float32,
        "HalfStorage" => float16,
        "BFloat16Storage" => bfloat16,
        "LongStorage" => int64,
        "IntStorage" => int32,
        "ShortStorage" => int16,
        "CharStorage" => int8,
        "ByteStorage" => uint8,
        "BoolStorage" => ScalarType.Bool,
        "ComplexDoubleStorage" => complex128,
        "ComplexFloatStorage" => complex64,
        _ => throw new InvalidDataException($"unsupported storage type {storage}."),
    };

    private sealed record StorageRef(Tensor Storage);

    private sealed class RebuildConstructor(string name, IObjectConstructor? previous) : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args.Length > 0 && args[0] is StorageRef storage)
            {
                var offset = ToLong(args[1]);
                var shape = ((object[])args[2]).Select(ToLong).ToArray();
                var stride = ((object[])args[3]).Select(ToLong).ToArray();
                using var view = storage.Storage.as_strided(shape, stride, offset);
                // A contiguous copy owns exactly its elements (no surprise when the caller disposes or writes it).
                return view.is_contiguous() ? view.clone() : view.contiguous();
            }
            if (name == "_rebuild_parameter" && args.Length > 0 && args[0] is Tensor data)
            {
                return data; // a Parameter inside a pickled dict: keep the tensor
            }
            return previous is not null
                ? previous.construct(args)
                : throw new InvalidDataException($"cannot rebuild torch._utils.{name}.");
        }

        private static long ToLong(object o) => System.Convert.ToInt64(o, System.Globalization.CultureInfo.InvariantCulture);
    }
}
