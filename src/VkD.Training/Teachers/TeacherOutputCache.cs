using System.Globalization;
using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using VkD.Data.Loading;
using VkD.Distillation.Teachers;
using static TorchSharp.torch;

namespace VkD.Training.Teachers;

/// <summary>
/// FKD-style cache of a frozen teacher's outputs: for K augmentations of every training image (cycled by epoch, see
/// <see cref="AugmentationDraws"/>) the teacher's logits and pooled features are recorded the first time a batch needs
/// them and replayed afterwards, so from epoch K on a distillation step costs no more than a student step.
/// </summary>
/// <remarks>
/// <para>Layout: one folder per run identity under the cache root, named by a hash of everything the outputs depend on
/// (teacher and its weights' hash, data, seed, augmentation, sizes, K, stored type; <c>key.json</c> lists them), so
/// runs that differ in any of these never share records, and a rerun or resume of the same run finds its own. The
/// file <c>outputs.bin</c> is memory-mapped: one presence byte per (draw, image), then fixed-size records of a magic
/// number, a CRC-32 and the logits and features in the stored type.</para>
/// <para>Exactness: the loss always sees the stored values, also in the step that records them (a bf16 store rounds
/// them first), so a replayed epoch sees what the recording one saw and a resumed run what an uninterrupted one
/// would. A record is written before its presence byte and checked against its CRC when read, so a record torn by a
/// crash reads as missing and is recorded again.</para>
/// </remarks>
public sealed class TeacherOutputCache : IDisposable
{
    /// <summary>The data file's name in the run's cache folder.</summary>
    public const string DataFile = "outputs.bin";

    /// <summary>The identity file's name in the run's cache folder.</summary>
    public const string KeyFile = "key.json";

    private const uint RecordMagic = 0x4344_4B56; // "VKDC"
    private const int RecordHeader = 8;
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly FileStream _lock;
    private readonly long _flagsLength;
    private readonly int _elementSize;
    private byte[] _buffer = [];

    private TeacherOutputCache(string folder, int draws, int images, int numClasses, int featureDim, ScalarType stored, FileStream lockStream)
    {
        Folder = folder;
        Draws = draws;
        Images = images;
        NumClasses = numClasses;
        FeatureDim = featureDim;
        StoredType = stored;
        _lock = lockStream;
        _elementSize = stored == ScalarType.BFloat16 ? 2 : 4;
        RecordBytes = (RecordHeader + ((long)numClasses + featureDim) * _elementSize + 7) / 8 * 8;
        _flagsLength = ((long)draws * images + 4095) / 4096 * 4096;
        var path = Path.Combine(folder, DataFile);
        var length = _flagsLength + (long)draws * images * RecordBytes;
        using (var fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            if (fs.Length != length)
            {
                if (fs.Length != 0)
                {
                    throw new InvalidDataException($"Teacher cache '{path}' is {fs.Length} bytes, but its key needs {length}: the file is damaged; delete the folder '{folder}'.");
                }
                // Sparse: the records take disk space only as they are written.
                fs.SetLength(length);
            }
        }
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        _view = _file.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite);
        for (long i = 0; i < (long)draws * images; i++)
        {
            RecordsPresent += _view.ReadByte(i) == 1 ? 1 : 0;
        }
    }

    /// <summary>The folder of this run's records.</summary>
    public string Folder { get; }

    /// <summary>Augmentations per image (K).</summary>
    public int Draws { get; }

    /// <summary>Images of the training set (indices 0..Images-1).</summary>
    public int Images { get; }

    /// <summary>Logits per record (0: a feature-only teacher).</summary>
    public int NumClasses { get; }

    /// <summary>Feature width per record.</summary>
    public int FeatureDim { get; }

    /// <summary>How the values are stored (BFloat16 or Float32).</summary>
    public ScalarType StoredType { get; }

    /// <summary>Bytes of one (draw, image) record.</summary>
    public long RecordBytes { get; }

    /// <summary>Records present (at open, plus those written since).</summary>
    public long RecordsPresent { get; private set; }

    /// <summary>Batches served from the cache without running the teacher.</summary>
    public long ReplayedBatches { get; private set; }

    /// <summary>Batches the teacher was run for (some record was missing).</summary>
    public long TeacherBatches { get; private set; }

    /// <summary>Records found damaged (bad magic or CRC) and recorded again.</summary>
    public long DamagedRecords { get; private set; }

    /// <summary>Bytes the present records take.</summary>
    public long BytesUsed => RecordsPresent * RecordBytes + _flagsLength;

    /// <summary>Bytes the file takes when every record is present.</summary>
    public long BytesFull => (long)Draws * Images * RecordBytes + _flagsLength;

    /// <summary>Parses <c>--teacher-cache-dtype</c>.</summary>
    /// <exception cref="ArgumentException">Neither bf16 nor fp32.</exception>
    public static ScalarType ParseDtype(string text) => text.ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp32" or "float32" => ScalarType.Float32,
        _ => throw new ArgumentException($"--teacher-cache-dtype {text}: use bf16 or fp32."),
    };

    /// <summary>Opens (or creates) the records of the run described by <paramref name="identity"/> under
    /// <paramref name="root"/>.</summary>
    /// <param name="root">The cache root (<c>--teacher-cache</c>).</param>
    /// <param name="identity">Everything the teacher's outputs for a draw depend on, by name (teacher, weights hash,
    /// data, seed, augmentation, sizes); the layout below is added to it.</param>
    /// <param name="draws">Augmentations per image (K ≥ 1).</param>
    /// <param name="images">Training images.</param>
    /// <param name="numClasses">Teacher logits per image (0: feature-only).</param>
    /// <param name="featureDim">Teacher feature width.</param>
    /// <param name="stored">BFloat16 or Float32.</param>
    /// <exception cref="ArgumentException">Bad sizes, or another process is using the same records.</exception>
    public static TeacherOutputCache Open(string root, IReadOnlyDictionary<string, string> identity, int draws, int images, int numClasses,
        int featureDim, ScalarType stored)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(identity);
        if (draws < 1 || images < 1 || numClasses < 0 || featureDim < 1)
        {
            throw new ArgumentException($"Teacher cache: draws ({draws}), images ({images}) and feature width ({featureDim}) must be positive, classes ({numClasses}) >= 0.");
        }
        if (stored is not (ScalarType.BFloat16 or ScalarType.Float32))
        {
            throw new ArgumentException($"Teacher cache stores bf16 or fp32, not {stored}.");
        }
        var key = new SortedDictionary<string, string>(identity.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal)
        {
            ["format"] = "1",
            ["draws"] = draws.ToString(CultureInfo.InvariantCulture),
            ["images"] = images.ToString(CultureInfo.InvariantCulture),
            ["num_classes"] = numClasses.ToString(CultureInfo.InvariantCulture),
            ["feature_dim"] = featureDim.ToString(CultureInfo.InvariantCulture),
            ["stored"] = stored == ScalarType.BFloat16 ? "bf16" : "fp32",
        };
        var json = JsonSerializer.Serialize(key, new JsonSerializerOptions { WriteIndented = true });
        var folder = Path.Combine(root, Convert.ToHexStringLower(XxHash3.Hash(Encoding.UTF8.GetBytes(json))));
        Directory.CreateDirectory(folder);
        FileStream lockStream;
        try
        {
            lockStream = new FileStream(Path.Combine(folder, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new ArgumentException($"Teacher cache '{folder}' is in use by another run of the same configuration ({e.Message}); wait for it or pass another --teacher-cache.", e);
        }
        try
        {
            var keyPath = Path.Combine(folder, KeyFile);
            if (!File.Exists(keyPath))
            {
                Logging.AtomicFile.WriteAllText(keyPath, json);
            }
            return new TeacherOutputCache(folder, draws, images, numClasses, featureDim, stored, lockStream);
        }
        catch
        {
            lockStream.Dispose();
            throw;
        }
    }

    /// <summary>A fingerprint of a weights file for <see cref="Open"/>'s identity: its length and XxHash3.</summary>
    public static string FileFingerprint(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var hash = new XxHash3();
        hash.Append(stream);
        return string.Create(CultureInfo.InvariantCulture, $"{stream.Length}:{Convert.ToHexStringLower(hash.GetCurrentHash())}");
    }

    /// <summary>True when the record of (<paramref name="draw"/>, <paramref name="image"/>) is present.</summary>
    public bool Contains(int draw, int image) => _view.ReadByte(Slot(draw, image)) == 1;

    /// <summary>The teacher's outputs for the batch of images <paramref name="indices"/> in <paramref name="epoch"/>:
    /// replayed when every record is present and sound, else the teacher is run on <paramref name="teacherImages"/>
    /// and the missing records are written. Either way the values are the stored ones, as float32 on the CPU.</summary>
    public TeacherOutputs Forward(ITeacher teacher, Func<Tensor> teacherImages, IReadOnlyList<int> indices, int epoch)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(teacherImages);
        ArgumentNullException.ThrowIfNull(indices);
        var draw = AugmentationDraws.Of(epoch, Draws);
        foreach (var i in indices)
        {
            if (i < 0 || i >= Images)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), $"Image index {i} is outside the cache's {Images} images.");
            }
        }
        if (indices.All(i => Contains(draw, i)) && TryRead(draw, indices) is { } replayed)
        {
            ReplayedBatches++;
            return replayed;
        }
        TeacherBatches++;
        var fresh = teacher.Forward(teacherImages());
        var b = indices.Count;
        if (fresh.Features.dim() != 2 || fresh.Features.shape[0] != b || fresh.Features.shape[1] != FeatureDim)
        {
            throw new InvalidOperationException($"Teacher cache: the teacher's features are [{string.Join(", ", fresh.Features.shape)}], the cache holds [{b}, {FeatureDim}] (pooled features only).");
        }
        if ((fresh.Logits is null ? 0 : fresh.Logits.shape[1]) != NumClasses)
        {
            throw new InvalidOperationException($"Teacher cache: the teacher gives {fresh.Logits?.shape[1] ?? 0} logits, the cache holds {NumClasses}.");
        }
        var features = fresh.Features.cpu().to_type(StoredType).contiguous();
        var logits = fresh.Logits?.cpu().to_type(StoredType).contiguous();
        Write(draw, indices, logits, features);
        return new TeacherOutputs(logits?.to_type(ScalarType.Float32), features.to_type(ScalarType.Float32));
    }

    /// <summary>One line for the run's banner: where, how much is recorded, the size.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"teacher cache {Folder}: {Draws} draw(s) x {Images} images, {(StoredType == ScalarType.BFloat16 ? "bf16" : "fp32")}, {RecordBytes} B per record; " +
        $"{RecordsPresent} of {(long)Draws * Images} recorded ({BytesUsed / 1048576.0:F1} of {BytesFull / 1048576.0:F1} MiB)");

    /// <summary>One line for the end of the run: how many batches were replayed.</summary>
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"teacher cache: {ReplayedBatches} batch(es) replayed, the teacher run for {TeacherBatches}; {RecordsPresent} of {(long)Draws * Images} records ({BytesUsed / 1048576.0:F1} MiB){(DamagedRecords > 0 ? $"; {DamagedRecords} damaged record(s) recorded again" : "")}");

    private long Slot(int draw, int image) => (long)draw * Images + image;

    private long RecordOffset(long slot) => _flagsLength + slot * RecordBytes;

    private TeacherOutputs? TryRead(int draw, IReadOnlyList<int> indices)
    {
        var b = indices.Count;
        var logitBytes = NumClasses * _elementSize;
        var featureBytes = FeatureDim * _elementSize;
        var payload = logitBytes + featureBytes;
        var logits = NumClasses > 0 ? empty([b, NumClasses], StoredType) : null;
        var features = empty([b, FeatureDim], StoredType);
        if (_buffer.Length < payload)
        {
            _buffer = new byte[payload];
        }
        var logitSpan = logits is null ? [] : logits.bytes;
        var featureSpan = features.bytes;
        for (var k = 0; k < b; k++)
        {
            var slot = Slot(draw, indices[k]);
            var offset = RecordOffset(slot);
            var magic = _view.ReadUInt32(offset);
            var crc = _view.ReadUInt32(offset + 4);
            _view.ReadArray(offset + RecordHeader, _buffer, 0, payload);
            var record = _buffer.AsSpan(0, payload);
            if (magic != RecordMagic || crc != Crc32.HashToUInt32(record))
            {
                // Torn by a crash (or damaged on disk): forget it, so the teacher records it again.
                _view.Write(slot, (byte)0);
                RecordsPresent--;
                DamagedRecords++;
                logits?.Dispose();
                features.Dispose();
                return null;
            }
            record[..logitBytes].CopyTo(logitSpan.Slice(k * logitBytes, logitBytes));
            record[logitBytes..].CopyTo(featureSpan.Slice(k * featureBytes, featureBytes));
        }
        return new TeacherOutputs(logits?.to_type(ScalarType.Float32), features.to_type(ScalarType.Float32));
    }

    private void Write(int draw, IReadOnlyList<int> indices, Tensor? logits, Tensor features)
    {
        var logitBytes = NumClasses * _elementSize;
        var featureBytes = FeatureDim * _elementSize;
        var payload = logitBytes + featureBytes;
        if (_buffer.Length < payload)
        {
            _buffer = new byte[payload];
        }
        ReadOnlySpan<byte> logitSpan = logits is null ? [] : logits.bytes;
        ReadOnlySpan<byte> featureSpan = features.bytes;
        for (var k = 0; k < indices.Count; k++)
        {
            var slot = Slot(draw, indices[k]);
            if (_view.ReadByte(slot) == 1)
            {
                continue;
            }
            var record = _buffer.AsSpan(0, payload);
            logitSpan.Slice(k * logitBytes, logitBytes).CopyTo(record);
            featureSpan.Slice(k * featureBytes, featureBytes).CopyTo(record[logitBytes..]);
            var offset = RecordOffset(slot);
            _view.WriteArray(offset + RecordHeader, _buffer, 0, payload);
            _view.Write(offset + 4, Crc32.HashToUInt32(record));
            _view.Write(offset, RecordMagic);
            // The presence byte last: a crash before it leaves the record missing, never half-present.
            _view.Write(slot, (byte)1);
            RecordsPresent++;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _view.Flush();
        _view.Dispose();
        _file.Dispose();
        _lock.Dispose();
    }
}
