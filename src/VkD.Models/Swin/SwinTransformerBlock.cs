using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// Swin's <c>SwinTransformerBlock</c> for a fixed H×W map (microsoft/Swin-Transformer): pre-norm (shifted) window
/// attention and MLP, each with a residual and drop path. When the map is no larger than the window, the window
/// shrinks to the map and the shift is dropped, as in the release. Shifted blocks hold the −100 mask as the persistent
/// buffer <c>attn_mask</c> [nW, ws², ws²], as the release files do. Keys <c>norm1.*</c>, <c>attn.*</c>,
/// <c>norm2.*</c>, <c>mlp.fc1.*</c>, <c>mlp.fc2.*</c>, <c>attn_mask</c>.
/// </summary>
public sealed class SwinTransformerBlock : nn.Module<Tensor, Tensor>
{
    private readonly long _h;
    private readonly long _w;
    private readonly LayerNorm norm1;
    private readonly WindowAttention attn;
    private readonly DropPath drop_path;
    private readonly LayerNorm norm2;
    private readonly Mlp mlp;
    private readonly Tensor? attn_mask;

    /// <summary>Creates a block for an <paramref name="h"/>×<paramref name="w"/> map; odd blocks of a stage use
    /// <paramref name="shiftSize"/> = window / 2.</summary>
    public SwinTransformerBlock(int dim, long h, long w, int numHeads, int windowSize, int shiftSize, double mlpRatio, double dropPath)
        : base(nameof(SwinTransformerBlock))
    {
        if (Math.Min(h, w) <= windowSize)
        {
            shiftSize = 0;
            windowSize = (int)Math.Min(h, w);
        }
        if (h % windowSize != 0 || w % windowSize != 0)
        {
            throw new ArgumentException($"A {h}x{w} token map cannot be cut into {windowSize}x{windowSize} windows (Swin classification does not pad): choose an image size whose stage maps are multiples of the window.");
        }
        if (shiftSize < 0 || shiftSize >= windowSize)
        {
            throw new ArgumentOutOfRangeException(nameof(shiftSize), shiftSize, "shift_size must be in [0, window_size).");
        }
        _h = h;
        _w = w;
        WindowSize = windowSize;
        ShiftSize = shiftSize;
        norm1 = nn.LayerNorm(dim);
        attn = new WindowAttention(dim, windowSize, numHeads);
        drop_path = new DropPath(dropPath);
        norm2 = nn.LayerNorm(dim);
        mlp = new Mlp(dim, (long)(dim * mlpRatio));
        register_module("norm1", norm1);
        register_module("attn", attn);
        register_module("drop_path", drop_path);
        register_module("norm2", norm2);
        register_module("mlp", mlp);
        if (shiftSize > 0)
        {
            attn_mask = SwinWindows.ShiftMask(h, w, windowSize);
            register_buffer("attn_mask", attn_mask);
        }
    }

    /// <summary>Window side (the map side when the map is smaller than the configured window).</summary>
    public int WindowSize { get; }

    /// <summary>Cyclic shift (0 or window / 2).</summary>
    public int ShiftSize { get; }

    /// <summary>Stochastic-depth probability of this block.</summary>
    public double DropPathRate => drop_path.P;

    /// <summary>Keys (relative to this block) of the buffers that are functions of the configuration.</summary>
    public IEnumerable<string> DerivedBufferKeys =>
        ShiftSize > 0 ? ["attn.relative_position_index", "attn_mask"] : ["attn.relative_position_index"];

    /// <summary>Runs the block on tokens [B, H·W, C].</summary>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        var b = x.shape[0];
        var c = x.shape[2];
        if (x.shape[1] != _h * _w)
        {
            throw new ArgumentException($"Expected {_h}x{_w} = {_h * _w} tokens, got {x.shape[1]}.", nameof(x));
        }
        var ws = WindowSize;
        var shortcut = x;
        x = norm1.forward(x).view(b, _h, _w, c);
        if (ShiftSize > 0)
        {
            x = torch.roll(x, [-ShiftSize, -ShiftSize], [1, 2]);
        }
        var windows = SwinWindows.Partition(x, ws).view(-1, ws * ws, c);
        windows = attn.forward(windows, attn_mask).view(-1, ws, ws, c);
        x = SwinWindows.Reverse(windows, ws, _h, _w);
        if (ShiftSize > 0)
        {
            x = torch.roll(x, [ShiftSize, ShiftSize], [1, 2]);
        }
        x = shortcut + drop_path.forward(x.reshape(b, _h * _w, c));
        x = x + drop_path.forward(mlp.forward(norm2.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// One stage of the plain Swin (<c>BasicLayer</c>): blocks alternating unshifted and shifted windows, then patch
/// merging except in the last stage. Keys <c>blocks.{i}.*</c>, <c>downsample.*</c>.
/// </summary>
public sealed class SwinStage : nn.Module<Tensor, Tensor>
{
    private readonly long _h;
    private readonly long _w;
    private readonly ModuleList<SwinTransformerBlock> blocks;
    private readonly SwinPatchMerging? downsample;

    /// <summary>Creates the stage for an <paramref name="h"/>×<paramref name="w"/> map.</summary>
    /// <param name="dim">Width of the stage.</param>
    /// <param name="h">Map rows.</param>
    /// <param name="w">Map columns.</param>
    /// <param name="depth">Number of blocks.</param>
    /// <param name="numHeads">Attention heads.</param>
    /// <param name="windowSize">Window side.</param>
    /// <param name="mlpRatio">MLP ratio.</param>
    /// <param name="dropPath">Stochastic depth of each block.</param>
    /// <param name="merge">Whether the stage ends with patch merging (all but the last).</param>
    public SwinStage(int dim, long h, long w, int depth, int numHeads, int windowSize, double mlpRatio, IReadOnlyList<double> dropPath, bool merge)
        : base(nameof(SwinStage))
    {
        ArgumentNullException.ThrowIfNull(dropPath);
        _h = h;
        _w = w;
        var list = new SwinTransformerBlock[depth];
        for (var i = 0; i < depth; i++)
        {
            list[i] = new SwinTransformerBlock(dim, h, w, numHeads, windowSize, i % 2 == 0 ? 0 : windowSize / 2, mlpRatio, dropPath[i]);
        }
        blocks = nn.ModuleList(list);
        register_module("blocks", blocks);
        if (merge)
        {
            downsample = new SwinPatchMerging(dim);
            register_module("downsample", downsample);
        }
    }

    /// <summary>The blocks.</summary>
    public IReadOnlyList<SwinTransformerBlock> Blocks => [.. blocks];

    /// <summary>Runs the blocks and the merge on tokens [B, H·W, C].</summary>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        foreach (var block in blocks)
        {
            x = block.forward(x);
        }
        return (downsample is null ? x : downsample.forward(x, _h, _w)).MoveToOuterDisposeScope();
    }
}
