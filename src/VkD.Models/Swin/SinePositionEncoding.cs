using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>DETR-style sine position encodings.</summary>
public static class SinePositionEncoding
{
    /// <summary>
    /// ViDT's <c>masked_sin_pos_encoding</c>: positions are the cumulative counts of valid (unpadded) pixels along y
    /// and x, normalised to (0, 2π] by the last count (+1e-6); each half of <paramref name="dim"/> holds sin/cos
    /// interleaved at frequencies 10000^(2⌊i/2⌋/(dim/2)). Returns [B, H, W, dim] (y half first, then x), float32.
    /// </summary>
    /// <param name="mask">[B, H, W], true on padding.</param>
    /// <param name="dim">Output channels (the stage width).</param>
    /// <param name="temperature">Frequency base.</param>
    /// <param name="scale">Range of the normalised positions.</param>
    public static Tensor Masked(Tensor mask, int dim, double temperature = 10000, double scale = 2 * Math.PI)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.ndim != 3)
        {
            throw new ArgumentException($"The padding mask must be [B, H, W], got [{string.Join(", ", mask.shape)}].", nameof(mask));
        }
        using var scope = NewDisposeScope();
        var half = dim / 2;
        var notMask = mask.logical_not();
        var y = notMask.cumsum(1, ScalarType.Float32);
        var x = notMask.cumsum(2, ScalarType.Float32);
        var h = y.shape[1];
        var w = x.shape[2];
        y = y / (y.narrow(1, h - 1, 1) + 1e-6) * scale;
        x = x / (x.narrow(2, w - 1, 1) + 1e-6) * scale;
        var dimT = torch.arange(half, dtype: float32, device: mask.device);
        dimT = torch.tensor((float)temperature, device: mask.device).pow(2 * dimT.div(2, RoundingMode.floor) / half);
        Tensor Encode(Tensor e)
        {
            var p = e.unsqueeze(-1) / dimT;
            return torch.stack([p.slice(3, 0, half, 2).sin(), p.slice(3, 1, half, 2).cos()], 4).flatten(3);
        }
        return torch.cat([Encode(y), Encode(x)], 3).MoveToOuterDisposeScope();
    }
}
