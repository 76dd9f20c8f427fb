using System.IO.Compression;
using System.Text;
using VkD.Interop.Checkpoints;
using static TorchSharp.torch;

namespace VkD.Tests.Interop.Checkpoints;

/// <summary>Crafted or damaged checkpoints raise <see cref="CheckpointFormatException"/> naming the file (and entry);
/// none may take the process down (issue 18, items 1 and 5).</summary>
public sealed class CheckpointHardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-ckpt-hard-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a torch.save-like zip whose data.pkl is <paramref name="pickle"/>.</summary>
    private string WriteZip(string name, byte[] pickle)
    {
        var path = Path.Combine(_dir, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        var entry = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression);
        using var s = entry.Open();
        s.Write(pickle);
        return path;
    }

    /// <summary>Rewrites the zip at <paramref name="path"/> with every entry stored uncompressed (CRCs recomputed), so a
    /// test can find and flip a byte of an entry's content in the raw file.</summary>
    private static void StoreUncompressed(string path)
    {
        var entries = new List<(string Name, byte[] Data)>();
        using (var zip = ZipFile.OpenRead(path))
        {
            foreach (var e in zip.Entries)
            {
                using var s = e.Open();
                using var m = new MemoryStream();
                s.CopyTo(m);
                entries.Add((e.FullName, m.ToArray()));
            }
        }
        File.Delete(path);
        using var output = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, data) in entries)
        {
            using var s = output.CreateEntry(name, CompressionLevel.NoCompression).Open();
            s.Write(data);
        }
    }

    /// <summary><c>{"x": [[[...]]]}</c> nested <paramref name="depth"/> lists deep, built on the pickle stack
    /// (20 KB at 10,000 levels, the file).</summary>
    private static byte[] StackNested(int depth)
    {
        var b = new List<byte> { 0x80, 2, (byte)'}', (byte)'X', 1, 0, 0, 0, (byte)'x' };
        b.AddRange(Enumerable.Repeat((byte)']', depth));
        b.AddRange(Enumerable.Repeat((byte)'a', depth - 1));
        b.Add((byte)'s');
        b.Add((byte)'.');
        return [.. b];
    }

    /// <summary>The same nesting built through the memo, so the pickle stack never holds more than two objects.</summary>
    private static byte[] MemoNested(int depth)
    {
        var b = new List<byte> { 0x80, 2 };
        for (int i = 0; i < depth; i++)
        {
            b.Add((byte)']');
            if (i > 0)
            {
                b.Add((byte)'j');
                b.AddRange(BitConverter.GetBytes(i - 1));
                b.Add((byte)'a');
            }
            b.Add((byte)'r');
            b.AddRange(BitConverter.GetBytes(i));
            b.Add((byte)'0');
        }
        b.AddRange([(byte)'}', (byte)'X', 1, 0, 0, 0, (byte)'x', (byte)'j']);
        b.AddRange(BitConverter.GetBytes(depth - 1));
        b.Add((byte)'s');
        b.Add((byte)'.');
        return [.. b];
    }

    [Fact]
    public void A_list_nested_10000_deep_is_a_format_error_not_a_stack_overflow()
    {
        var path = WriteZip("deep.pth", StackNested(10_000));
        Assert.InRange(new FileInfo(path).Length, 10_000, 30_000);
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Equal(path, ex.Path);
        Assert.Contains(path, ex.Message);
        Assert.Contains("nests containers", ex.Message);
        Assert.Contains(CheckpointReader.MaxNesting.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [Fact]
    public void Nesting_built_through_the_memo_is_bounded_too()
    {
        var path = WriteZip("memo-deep.pth", MemoNested(10_000));
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Contains("nests containers", ex.Message);
    }

    [Fact]
    public void A_list_that_contains_itself_is_a_format_error()
    {
        // l = []; l.append(l); {"x": l}
        byte[] pickle = [0x80, 2, (byte)'}', (byte)'X', 1, 0, 0, 0, (byte)'x', (byte)']', (byte)'q', 0, (byte)'h', 0, (byte)'a', (byte)'s', (byte)'.'];
        var path = WriteZip("cycle.pth", pickle);
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Contains("nests containers", ex.Message);
    }

    [Fact]
    public void Moderate_nesting_still_reads()
    {
        var path = WriteZip("ok.pth", StackNested(50));
        using var ckpt = CheckpointReader.Read(path);
        object? v = ckpt.Entries["x"];
        int depth = 0;
        while (v is List<object?> l)
        {
            depth++;
            v = l.Count > 0 ? l[0] : null;
        }
        Assert.Equal(50, depth);
    }

    [Fact]
    public void A_storage_larger_than_its_zip_entry_is_refused_before_allocating()
    {
        // {"w": tensor rebuilt from a FloatStorage claiming 2^40 elements} with a 4-byte data/0 entry.
        var p = new List<byte> { 0x80, 2, (byte)'}', (byte)'X', 1, 0, 0, 0, (byte)'w' };
        p.AddRange(Encoding.ASCII.GetBytes("ctorch._utils\n_rebuild_tensor_v2\n"));
        p.Add((byte)'(');
        p.Add((byte)'(');
        p.AddRange([(byte)'X', 7, 0, 0, 0]);
        p.AddRange(Encoding.ASCII.GetBytes("storage"));
        p.AddRange(Encoding.ASCII.GetBytes("ctorch\nFloatStorage\n"));
        p.AddRange([(byte)'X', 1, 0, 0, 0, (byte)'0']);
        p.AddRange([(byte)'X', 3, 0, 0, 0]);
        p.AddRange(Encoding.ASCII.GetBytes("cpu"));
        p.AddRange([0x8a, 6, 0, 0, 0, 0, 0, 1]); // LONG1 2^40
        p.Add((byte)'t');
        p.Add((byte)'Q');
        p.AddRange([(byte)'K', 0, (byte)'K', 1, 0x85, (byte)'K', 1, 0x85, 0x89, (byte)'N', (byte)'t', (byte)'R', (byte)'s', (byte)'.']);
        var path = Path.Combine(_dir, "huge.pth");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open())
            {
                s.Write(p.ToArray());
            }
            using (var s = zip.CreateEntry("archive/data/0", CompressionLevel.NoCompression).Open())
            {
                s.Write(new byte[4]);
            }
        }
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Contains("archive/data/0", ex.Message);
        Assert.Contains("4 bytes", ex.Message);
    }

    [Fact]
    public void A_flipped_byte_in_tensor_data_is_a_crc_error_naming_the_entry()
    {
        var path = Path.Combine(_dir, "flip.pth");
        using (var w = arange(0, 64, dtype: ScalarType.Float32).add(1000f))
        {
            CheckpointWriter.WriteStateDict(path, new Dictionary<string, Tensor> { ["w"] = w });
        }
        StoreUncompressed(path);
        using (var intact = CheckpointReader.Read(path))
        {
            Assert.Single(intact.Entries);
        }
        var bytes = File.ReadAllBytes(path);
        // The float 1010.0f (element 10) appears once, inside the stored (uncompressed) tensor entry.
        var needle = BitConverter.GetBytes(1010f);
        int at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at > 0, "tensor data is stored uncompressed");
        bytes[at] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("CRC", ex.Message);
        Assert.Matches("data/0", ex.Message);
    }

    [Fact]
    public void A_flipped_byte_in_data_pkl_is_a_crc_error()
    {
        var path = Path.Combine(_dir, "flip-pkl.pth");
        using (var w = ones(2))
        {
            CheckpointWriter.WriteStateDict(path, new Dictionary<string, Tensor> { ["weight_key"] = w });
        }
        StoreUncompressed(path);
        var bytes = File.ReadAllBytes(path);
        // Rename the key in the pickle only (same length): the pickle still parses, only the CRC can tell.
        var key = Encoding.ASCII.GetBytes("weight_key");
        int at = bytes.AsSpan().IndexOf(key);
        Assert.True(at > 0);
        bytes[at] = (byte)'W';
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Contains("CRC", ex.Message);
        Assert.Contains("data.pkl", ex.Message);
    }
}
