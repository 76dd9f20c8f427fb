using System.Buffers.Binary;
using System.IO.Compression;

namespace VkD.Detection.Synthesis;

/// <summary>
/// Reads unsigned-byte IDX files (MNIST / Fashion-MNIST <c>*-idx3-ubyte</c> and <c>*-idx1-ubyte</c>), gzipped or raw
/// (detected by the gzip magic). VkD.Data has its own reader; this small one keeps the detection part independent.
/// </summary>
public static class IdxReader
{
    /// <summary>Reads the dimensions and the bytes of an IDX file.</summary>
    /// <exception cref="InvalidDataException">Not an unsigned-byte IDX file, or truncated; the message names the file.</exception>
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var unzipped = new MemoryStream();
            gz.CopyTo(unzipped);
            raw = unzipped.ToArray();
        }
        if (raw.Length < 4 || raw[0] != 0 || raw[1] != 0)
        {
            throw new InvalidDataException($"{path}: not an IDX file (bad magic).");
        }
        if (raw[2] != 0x08)
        {
            throw new InvalidDataException($"{path}: IDX element type 0x{raw[2]:x2} is not unsigned byte (0x08).");
        }
        var ndim = raw[3];
        if (raw.Length < 4 + (4 * ndim))
        {
            throw new InvalidDataException($"{path}: truncated IDX header.");
        }
        var dims = new int[ndim];
        long count = 1;
        for (var i = 0; i < ndim; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(4 + (4 * i)));
            count *= dims[i];
        }
        var offset = 4 + (4 * ndim);
        if (raw.Length - offset != count)
        {
            throw new InvalidDataException($"{path}: IDX header [{string.Join(", ", dims)}] needs {count} bytes of data, file has {raw.Length - offset}.");
        }
        return (dims, raw[offset..]);
    }
}
