using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// ViDT's Reconfigured Attention Module (<c>ReconfiguredAttentionModule</c>, paper §3): Swin's window attention with
/// relative position bias for the [PATCH] tokens, and, with the same <c>qkv</c> and <c>proj</c>, attention of the
/// [DET] tokens to the [DET] tokens, or in cross-attention stages to all (unshifted) [PATCH] tokens and the [DET]
/// tokens. Keys <c>relative_position_bias_table</c>, <c>relative_position_index</c> (buffer), <c>qkv.*</c>,
/// <c>proj.*</c>, as Swin's <c>WindowAttention</c>.
/// </summary>
public sealed class ReconfiguredAttention : nn.Module
{
    private readonly int _numHeads;
    private readonly int _windowSize;
    private readonly double _scale;
    private readonly Parameter relative_position_bias_table;
    private readonly Tensor relative_position_index;
    private readonly Linear qkv;
    private readonly Linear proj;

    /// <summary>Creates the module for width <paramref name="dim"/>, windows of
    /// <paramref name="windowSize"/>² tokens and <paramref name="numHeads"/> heads.</summary>
    public ReconfiguredAttention(int dim, int windowSize, int numHeads, bool qkvBias = true) : base(nameof(ReconfiguredAttention))
    {
        if (dim % numHeads != 0)
        {
            throw new ArgumentException($"Attention width {dim} is not divisible by {numHeads} heads.", nameof(numHeads));
        }
        Dim = dim;
        _numHeads = numHeads;
        _windowSize = windowSize;
        _scale = Math.Pow(dim / numHeads, -0.5);
        relative_position_bias_table = new Parameter(torch.zeros((2 * windowSize - 1) * (2 * windowSize - 1), numHeads));
        relative_position_index = RelativePositionIndex(windowSize);
        qkv = nn.Linear(dim, dim * 3, hasBias: qkvBias);
        proj = nn.Linear(dim, dim);
        register_parameter("relative_position_bias_table", relative_position_bias_table);
        register_buffer("relative_position_index", relative_position_index);
        register_module("qkv", qkv);
        register_module("proj", proj);
        WeightInit.TruncNormal(relative_position_bias_table, 0.02);
    }

    /// <summary>Token width.</summary>
    public int Dim { get; }

    /// <summary>Swin's pair-wise index into the bias table: (Δy + ws − 1)·(2ws − 1) + (Δx + ws − 1) for every pair of
    /// tokens of a window, [ws², ws²].</summary>
    public static Tensor RelativePositionIndex(int windowSize)
    {
        var n = windowSize * windowSize;
        var index = new long[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var dy = i / windowSize - j / windowSize + windowSize - 1;
                var dx = i % windowSize - j % windowSize + windowSize - 1;
                index[i * n + j] = dy * (2 * windowSize - 1) + dx;
            }
        }
        return torch.tensor(index, [n, n], dtype: int64);
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
        var ws = _windowSize;
        var hd = c / _numHeads;
        var numDet = det.shape[1];
        var parts = cross is null ? new[] { x.reshape(b, n, c), det } : new[] { x.reshape(b, n, c), cross.reshape(b, -1, c), det };
        var full = qkv.forward(torch.cat(parts, 1));
        var total = full.shape[1];

        // [PATCH x PATCH] attention inside each window, with the relative position bias and the shift mask.
        var windows = WindowPartition(full.narrow(1, 0, n).reshape(b, h, w, 3 * c), ws);
        var bw = windows.shape[0];
        var packed = windows.reshape(bw, ws * ws, 3, _numHeads, hd).permute(2, 0, 3, 1, 4);
        var attn = torch.matmul(packed[0] * _scale, packed[1].transpose(-2, -1));
        var bias = relative_position_bias_table.index_select(0, relative_position_index.reshape(-1))
            .reshape(ws * ws, ws * ws, -1).permute(2, 0, 1);
        attn = attn + bias.unsqueeze(0);
        if (shiftMask is not null)
        {
            var nw = shiftMask.shape[0];
            attn = (attn.view(bw / nw, nw, _numHeads, ws * ws, ws * ws) + shiftMask.unsqueeze(1).unsqueeze(0))
                .view(-1, _numHeads, ws * ws, ws * ws);
        }
        var patches = torch.matmul(attn.softmax(-1), packed[2]).transpose(1, 2).reshape(bw, ws, ws, c);

        // [DET x DET], or [DET x (PATCH, DET)] with the cross-attention key mask.
        var detPacked = full.narrow(1, total - numDet, numDet).reshape(b, numDet, 3, _numHeads, hd).permute(2, 0, 3, 1, 4);
        var detK = detPacked[1];
        var detV = detPacked[2];
        if (cross is not null)
        {
            var crossN = cross.shape[1] * cross.shape[2];
            var crossPacked = full.narrow(1, n, crossN).reshape(b, crossN, 3, _numHeads, hd).permute(2, 0, 3, 1, 4);
            detK = torch.cat([crossPacked[1], detK], 2);
            detV = torch.cat([crossPacked[2], detV], 2);
        }
        var detAttn = torch.matmul(detPacked[0] * _scale, detK.transpose(-2, -1));
        if (crossMask is not null)
        {
            detAttn = detAttn + crossMask;
        }
        var detOut = torch.matmul(detAttn.softmax(-1), detV).transpose(1, 2).reshape(b, -1, c);

        patches = WindowReverse(patches, ws, h, w);
        var output = proj.forward(torch.cat([patches.reshape(b, n, c), detOut], 1));
        return (output.narrow(1, 0, n).reshape(b, h, w, c).MoveToOuterDisposeScope(),
            output.narrow(1, n, numDet).MoveToOuterDisposeScope());
    }

    /// <summary>Swin's <c>window_partition</c>: [B, H, W, C] → [B·nW, ws, ws, C] (H and W multiples of ws).</summary>
    public static Tensor WindowPartition(Tensor x, int windowSize)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        return x.view(b, h / windowSize, windowSize, w / windowSize, windowSize, c).permute(0, 1, 3, 2, 4, 5)
            .reshape(-1, windowSize, windowSize, c);
    }

    /// <summary>Swin's <c>window_reverse</c>: [B·nW, ws, ws, C] → [B, H, W, C].</summary>
    public static Tensor WindowReverse(Tensor windows, int windowSize, long h, long w)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var b = windows.shape[0] / (h / windowSize * (w / windowSize));
        return windows.view(b, h / windowSize, w / windowSize, windowSize, windowSize, -1).permute(0, 1, 3, 2, 4, 5)
            .reshape(b, h, w, -1);
    }
}
