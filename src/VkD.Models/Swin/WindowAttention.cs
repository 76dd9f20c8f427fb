using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// Swin's window attention parts shared by the plain classifier (<see cref="WindowAttention"/>) and ViDT's RAM
/// (<see cref="ReconfiguredAttention"/>): the relative position bias table and its index buffer, <c>qkv</c>,
/// <c>proj</c>, and multi-head attention inside windows with the bias and an optional shift mask. Keys
/// <c>relative_position_bias_table</c>, <c>relative_position_index</c> (buffer), <c>qkv.*</c>, <c>proj.*</c>, as
/// Swin's <c>WindowAttention</c>.
/// </summary>
public abstract class WindowAttentionBase : nn.Module
{
    private readonly double _scale;
    private readonly Parameter relative_position_bias_table;
    private readonly Tensor relative_position_index;
    private readonly Linear qkv;
    private readonly Linear proj;

    /// <summary>Creates the parts for width <paramref name="dim"/>, windows of <paramref name="windowSize"/>² tokens
    /// and <paramref name="numHeads"/> heads.</summary>
    protected WindowAttentionBase(string name, int dim, int windowSize, int numHeads, bool qkvBias) : base(name)
    {
        if (dim % numHeads != 0)
        {
            throw new ArgumentException($"Attention width {dim} is not divisible by {numHeads} heads.", nameof(numHeads));
        }
        Dim = dim;
        NumHeads = numHeads;
        WindowSize = windowSize;
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

    /// <summary>Attention heads.</summary>
    public int NumHeads { get; }

    /// <summary>Window side.</summary>
    public int WindowSize { get; }

    /// <summary>Query scale, head_dim^−0.5.</summary>
    protected double Scale => _scale;

    /// <summary>The <c>qkv</c> projection (width → 3·width).</summary>
    protected Linear Qkv => qkv;

    /// <summary>The output projection.</summary>
    protected Linear Proj => proj;

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

    /// <summary>Attention inside windows from their <c>qkv</c> output [B·nW, ws², 3C]: softmax(q·kᵀ·scale + bias
    /// (+ mask)) · v, heads merged, before <c>proj</c>: [B·nW, ws², C].</summary>
    /// <param name="packed">The <c>qkv</c> output of the window tokens.</param>
    /// <param name="shiftMask">Shifted-window mask [nW, ws², ws²] (0 / −100), or null for unshifted windows.</param>
    protected Tensor AttendWindows(Tensor packed, Tensor? shiftMask)
    {
        ArgumentNullException.ThrowIfNull(packed);
        using var scope = NewDisposeScope();
        var bw = packed.shape[0];
        var n = packed.shape[1];
        var c = packed.shape[2] / 3;
        var qkvs = packed.reshape(bw, n, 3, NumHeads, c / NumHeads).permute(2, 0, 3, 1, 4);
        var attn = torch.matmul(qkvs[0] * Scale, qkvs[1].transpose(-2, -1));
        var bias = relative_position_bias_table.index_select(0, relative_position_index.reshape(-1))
            .reshape(n, n, -1).permute(2, 0, 1);
        attn = attn + bias.unsqueeze(0);
        if (shiftMask is not null)
        {
            var nw = shiftMask.shape[0];
            attn = (attn.view(bw / nw, nw, NumHeads, n, n) + shiftMask.unsqueeze(1).unsqueeze(0)).view(-1, NumHeads, n, n);
        }
        return torch.matmul(attn.softmax(-1), qkvs[2]).transpose(1, 2).reshape(bw, n, c).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Swin's <c>WindowAttention</c> (microsoft/Swin-Transformer <c>models/swin_transformer.py</c>): multi-head
/// self-attention inside each window with the relative position bias, and the −100 mask in shifted blocks.
/// </summary>
public sealed class WindowAttention : WindowAttentionBase
{
    /// <summary>Creates the attention (qkv bias on, as every Swin release).</summary>
    public WindowAttention(int dim, int windowSize, int numHeads, bool qkvBias = true)
        : base(nameof(WindowAttention), dim, windowSize, numHeads, qkvBias)
    {
    }

    /// <summary>Attends window tokens [B·nW, ws², C] and projects them.</summary>
    /// <param name="windows">Tokens of each window.</param>
    /// <param name="shiftMask">Shifted-window mask [nW, ws², ws²], or null.</param>
    public Tensor forward(Tensor windows, Tensor? shiftMask = null)
    {
        ArgumentNullException.ThrowIfNull(windows);
        using var scope = NewDisposeScope();
        return Proj.forward(AttendWindows(Qkv.forward(windows), shiftMask)).MoveToOuterDisposeScope();
    }
}

/// <summary>Swin's window helpers: partition, reverse and the shifted-window mask.</summary>
public static class SwinWindows
{
    /// <summary>Swin's <c>window_partition</c>: [B, H, W, C] → [B·nW, ws, ws, C] (H and W multiples of ws).</summary>
    public static Tensor Partition(Tensor x, int windowSize)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        return x.view(b, h / windowSize, windowSize, w / windowSize, windowSize, c).permute(0, 1, 3, 2, 4, 5)
            .reshape(-1, windowSize, windowSize, c);
    }

    /// <summary>Swin's <c>window_reverse</c>: [B·nW, ws, ws, C] → [B, H, W, C].</summary>
    public static Tensor Reverse(Tensor windows, int windowSize, long h, long w)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var b = windows.shape[0] / (h / windowSize * (w / windowSize));
        return windows.view(b, h / windowSize, w / windowSize, windowSize, windowSize, -1).permute(0, 1, 3, 2, 4, 5)
            .reshape(b, h, w, -1);
    }

    /// <summary>
    /// Swin's shifted-window mask (shift = ws / 2) for an H×W map padded to multiples of the window: the padded map is
    /// cut into 3×3 regions (rows [0, Hp−ws), [Hp−ws, Hp−s), [Hp−s, Hp), likewise columns); pairs of tokens of a window
    /// from different regions get −100, others 0. [nW, ws², ws²].
    /// </summary>
    public static Tensor ShiftMask(long h, long w, int windowSize)
    {
        var ws = windowSize;
        var s = windowSize / 2;
        var hp = (h + ws - 1) / ws * ws;
        var wp = (w + ws - 1) / ws * ws;
        static int Region(long i, long size, int ws, int s) => i < size - ws ? 0 : i < size - s ? 1 : 2;
        var labels = new float[hp * wp];
        for (var y = 0; y < hp; y++)
        {
            for (var x = 0; x < wp; x++)
            {
                labels[y * wp + x] = 3 * Region(y, hp, ws, s) + Region(x, wp, ws, s);
            }
        }
        using var scope = NewDisposeScope();
        var img = torch.tensor(labels, [1, hp, wp, 1]);
        var windows = Partition(img, ws).reshape(-1, ws * ws);
        var diff = windows.unsqueeze(1) - windows.unsqueeze(2);
        return diff.ne(0).to(float32).mul(-100.0).MoveToOuterDisposeScope();
    }
}
