using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// ViDT's Swin block on bound [PATCH; DET] tokens (<c>SwinTransformerBlock</c> of <c>swin_w_ram.py</c>): pre-norm
/// (<c>norm1</c> over all tokens), (shifted) window attention for [PATCH] and RAM attention for [DET] after adding
/// <c>det_pos_linear(det_pos)</c>, residual with drop path, then <c>norm2</c> + MLP (GELU). Keys <c>norm1.*</c>,
/// <c>attn.*</c>, <c>norm2.*</c>, <c>mlp.fc1.*</c>, <c>mlp.fc2.*</c>, <c>det_pos_linear.*</c>.
/// </summary>
public sealed class SwinRamBlock : nn.Module
{
    private readonly LayerNorm norm1;
    private readonly ReconfiguredAttention attn;
    private readonly DropPath drop_path;
    private readonly LayerNorm norm2;
    private readonly Mlp mlp;
    private readonly Linear det_pos_linear;

    /// <summary>Creates a block; odd blocks of a stage use <paramref name="shiftSize"/> = window / 2.</summary>
    public SwinRamBlock(int dim, int numHeads, int windowSize, int shiftSize, double mlpRatio, double dropPath, int posDim)
        : base(nameof(SwinRamBlock))
    {
        if (shiftSize < 0 || shiftSize >= windowSize)
        {
            throw new ArgumentOutOfRangeException(nameof(shiftSize), shiftSize, "shift_size must be in [0, window_size).");
        }
        Dim = dim;
        WindowSize = windowSize;
        ShiftSize = shiftSize;
        norm1 = nn.LayerNorm(dim);
        attn = new ReconfiguredAttention(dim, windowSize, numHeads);
        drop_path = new DropPath(dropPath);
        norm2 = nn.LayerNorm(dim);
        mlp = new Mlp(dim, (long)(dim * mlpRatio));
        det_pos_linear = nn.Linear(posDim, dim);
        register_module("norm1", norm1);
        register_module("attn", attn);
        register_module("drop_path", drop_path);
        register_module("norm2", norm2);
        register_module("mlp", mlp);
        register_module("det_pos_linear", det_pos_linear);
    }

    /// <summary>Token width.</summary>
    public int Dim { get; }

    /// <summary>Window side.</summary>
    public int WindowSize { get; }

    /// <summary>Cyclic shift (0 or window / 2).</summary>
    public int ShiftSize { get; }

    /// <summary>Stochastic-depth probability of this block.</summary>
    public double DropPathRate => drop_path.P;

    /// <summary>Runs the block on bound tokens [B, H·W + D, C].</summary>
    /// <param name="x">[PATCH; DET] tokens.</param>
    /// <param name="h">Patch rows.</param>
    /// <param name="w">Patch columns.</param>
    /// <param name="shiftMask">The stage's shifted-window mask (used when this block shifts).</param>
    /// <param name="detPos">The learned [DET] position embedding [1, D, pos_dim].</param>
    /// <param name="patchPos">Sine position encoding of the [PATCH] tokens [B, H, W, C] in cross-attention stages,
    /// else null.</param>
    /// <param name="crossMask">Cross-attention key mask [B, 1, 1, H·W + D] in cross-attention stages, else null.</param>
    public Tensor forward(Tensor x, long h, long w, Tensor shiftMask, Tensor detPos, Tensor? patchPos = null, Tensor? crossMask = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(detPos);
        using var scope = NewDisposeScope();
        var b = x.shape[0];
        var c = x.shape[2];
        var n = h * w;
        if (x.shape[1] <= n)
        {
            throw new ArgumentException($"Expected {n} [PATCH] tokens followed by [DET] tokens, got {x.shape[1]} tokens.", nameof(x));
        }
        var shortcut = x;
        x = norm1.forward(x);
        var patches = x.narrow(1, 0, n).reshape(b, h, w, c);
        var det = x.narrow(1, n, x.shape[1] - n);
        var padR = (WindowSize - w % WindowSize) % WindowSize;
        var padB = (WindowSize - h % WindowSize) % WindowSize;
        var shifted = nn.functional.pad(patches, [0, 0, 0, padR, 0, padB]);
        if (ShiftSize > 0)
        {
            shifted = torch.roll(shifted, [-ShiftSize, -ShiftSize], [1, 2]);
        }
        det = det + det_pos_linear.forward(detPos);
        var cross = patchPos is null ? null : patches + patchPos;
        var (attended, detOut) = attn.forward(shifted, det, ShiftSize > 0 ? shiftMask : null, cross, crossMask);
        if (ShiftSize > 0)
        {
            attended = torch.roll(attended, [ShiftSize, ShiftSize], [1, 2]);
        }
        attended = attended.narrow(1, 0, h).narrow(2, 0, w).reshape(b, n, c);
        x = shortcut + drop_path.forward(torch.cat([attended, detOut], 1));
        x = x + drop_path.forward(mlp.forward(norm2.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}
