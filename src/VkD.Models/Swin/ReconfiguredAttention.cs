using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// ViDT's Reconfigured Attention Module (<c>ReconfiguredAttentionModule</c>, paper §3): Swin's window attention with
/// relative position bias for the [PATCH] tokens, and, with the same <c>qkv</c> and <c>proj</c>, attention of the
/// [DET] tokens to the [DET] tokens, or in cross-attention stages to all (unshifted) [PATCH] tokens and the [DET]
/// tokens. Keys <c>relative_position_bias_table</c>, <c>relative_position_index</c> (buffer), <c>qkv.*</c>,
/// <c>proj.*</c>, as Swin's <c>WindowAttention</c>.
/// </summary>
public sealed class ReconfiguredAttention : WindowAttentionBase
{
    /// <summary>Creates the module for width <paramref name="dim"/>, windows of
    /// <paramref name="windowSize"/>² tokens and <paramref name="numHeads"/> heads.</summary>
    public ReconfiguredAttention(int dim, int windowSize, int numHeads, bool qkvBias = true)
        : base(nameof(ReconfiguredAttention), dim, windowSize, numHeads, qkvBias)
    {
    }

    /// <summary>
    /// One RAM attention.
    /// </summary>
    /// <param name="x">[PATCH] tokens [B, Hp, Wp, C], padded to multiples of the window (and cyclically shifted).</param>
    /// <param name="det">[DET] tokens [B, D, C] (normed, position embedding added).</param>
    /// <param name="shiftMask">Shifted-window mask [nW, ws², ws²] (0 / −100), or null for unshifted windows.</param>
    /// <param name="cross">For [DET × PATCH] cross-attention: the unshifted, unpadded [PATCH] tokens with their
    /// sine position encoding [B, H, W, C]; null for [DET × DET] attention only.</param>
    /// <param name="crossMask">Additive key mask [B, 1, 1, H·W + D] (−100 at padded pixels), or null.</param>
    /// <returns>The attended [PATCH] tokens [B, Hp, Wp, C] and [DET] tokens [B, D, C] (after <c>proj</c>).</returns>
    public (Tensor Patches, Tensor Det) forward(Tensor x, Tensor det, Tensor? shiftMask = null, Tensor? cross = null, Tensor? crossMask = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(det);
        using var scope = NewDisposeScope();
        var b = x.shape[0];
        var h = x.shape[1];
        var w = x.shape[2];
        var c = x.shape[3];
        var n = h * w;
        var ws = WindowSize;
        var hd = c / NumHeads;
        var numDet = det.shape[1];
        var parts = cross is null ? new[] { x.reshape(b, n, c), det } : new[] { x.reshape(b, n, c), cross.reshape(b, -1, c), det };
        var full = Qkv.forward(torch.cat(parts, 1));
        var total = full.shape[1];

        // [PATCH x PATCH] attention inside each window, with the relative position bias and the shift mask.
        var windows = SwinWindows.Partition(full.narrow(1, 0, n).reshape(b, h, w, 3 * c), ws);
        var bw = windows.shape[0];
        var patches = AttendWindows(windows.reshape(bw, ws * ws, 3 * c), shiftMask).reshape(bw, ws, ws, c);

        // [DET x DET], or [DET x (PATCH, DET)] with the cross-attention key mask.
        var detPacked = full.narrow(1, total - numDet, numDet).reshape(b, numDet, 3, NumHeads, hd).permute(2, 0, 3, 1, 4);
        var detK = detPacked[1];
        var detV = detPacked[2];
        if (cross is not null)
        {
            var crossN = cross.shape[1] * cross.shape[2];
            var crossPacked = full.narrow(1, n, crossN).reshape(b, crossN, 3, NumHeads, hd).permute(2, 0, 3, 1, 4);
            detK = torch.cat([crossPacked[1], detK], 2);
            detV = torch.cat([crossPacked[2], detV], 2);
        }
        var detAttn = torch.matmul(detPacked[0] * Scale, detK.transpose(-2, -1));
        if (crossMask is not null)
        {
            detAttn = detAttn + crossMask;
        }
        var detOut = torch.matmul(detAttn.softmax(-1), detV).transpose(1, 2).reshape(b, -1, c);

        patches = SwinWindows.Reverse(patches, ws, h, w);
        var output = Proj.forward(torch.cat([patches.reshape(b, n, c), detOut], 1));
        return (output.narrow(1, 0, n).reshape(b, h, w, c).MoveToOuterDisposeScope(),
            output.narrow(1, n, numDet).MoveToOuterDisposeScope());
    }
}
