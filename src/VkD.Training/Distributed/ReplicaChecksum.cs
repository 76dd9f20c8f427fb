using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Training.Distributed;

/// <summary>An exact fingerprint of a set of tensors: the wrapping sum of their 32-bit words, each weighted by its
/// position, so equal replicas give equal values whatever the summation order and any single flipped bit shows.</summary>
public static class ReplicaChecksum
{
    /// <summary>The checksum of <paramref name="tensors"/> (CPU tensors; non-contiguous ones are copied).</summary>
    public static long Of(IEnumerable<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        unchecked
        {
            long sum = 0, position = 0;
            foreach (var t in tensors)
            {
                var data = t.is_contiguous() ? t : t.contiguous();
                var words = MemoryMarshal.Cast<byte, int>(data.bytes);
                for (var i = 0; i < words.Length; i++)
                {
                    sum += (words[i] + 0x9E3779B9L) * (++position | 1);
                }
                // A byte tail (odd-sized int8/bool tensors) counts too.
                var tail = data.bytes[(words.Length * sizeof(int))..];
                foreach (var b in tail)
                {
                    sum += (b + 0x51L) * (++position | 1);
                }
            }
            return sum;
        }
    }
}
