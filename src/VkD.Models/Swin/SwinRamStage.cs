using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// One stage of ViDT's Swin (<c>BasicLayer</c> of <c>swin_w_ram.py</c>): blocks alternating unshifted and shifted
/// windows, then patch merging. In a cross-attention stage it also builds the [PATCH] sine position encoding and the
/// [DET × PATCH] key mask from the padding mask. Keys <c>blocks.{i}.*</c>, <c>downsample.*</c>.
/// </summary>
public sealed class SwinRamStage : nn.Module
{
    private readonly int _windowSize;
    private readonly ModuleList<SwinRamBlock> blocks;
    private readonly SwinRamPatchMerging downsample;

    /// <summary>Creates the stage.</summary>
    /// <param name="dim">Width of the stage.</param>
    /// <param name="depth">Number of blocks.</param>
    /// <param name="numHeads">Attention heads.</param>
    /// <param name="windowSize">Window side.</param>
    /// <param name="mlpRatio">MLP ratio.</param>
    /// <param name="dropPath">Stochastic depth of each block.</param>
    /// <param name="posDim">Width of the [DET] position embedding.</param>
    /// <param name="outDim">Width after the patch merging.</param>
    public SwinRamStage(int dim, int depth, int numHeads, int windowSize, double mlpRatio, IReadOnlyList<double> dropPath, int posDim, int outDim)
        : base(nameof(SwinRamStage))
    {
        ArgumentNullException.ThrowIfNull(dropPath);
        Dim = dim;
        _windowSize = windowSize;
        var list = new SwinRamBlock[depth];
        for (var i = 0; i < depth; i++)
        {
            list[i] = new SwinRamBlock(dim, numHeads, windowSize, i % 2 == 0 ? 0 : windowSize / 2, mlpRatio, dropPath[i], posDim);
        }
        blocks = nn.ModuleList(list);
        downsample = new SwinRamPatchMerging(dim, outDim);
        register_module("blocks", blocks);
        register_module("downsample", downsample);
    }

    /// <summary>Width of the stage.</summary>
    public int Dim { get; }

    /// <summary>The blocks.</summary>
    public IReadOnlyList<SwinRamBlock> Blocks => [.. blocks];

    /// <summary>Swin's shifted-window mask for an H×W map padded to multiples of the window, [nW, ws², ws²]
    /// (<see cref="SwinWindows.ShiftMask"/>).</summary>
    public static Tensor ShiftMask(long h, long w, int windowSize) => SwinWindows.ShiftMask(h, w, windowSize);

    /// <summary>Runs the blocks and the merge on bound tokens [B, H·W + D, C].</summary>
    /// <param name="x">[PATCH; DET] tokens.</param>
    /// <param name="h">Patch rows.</param>
    /// <param name="w">Patch columns.</param>
    /// <param name="detPos">[DET] position embedding [1, D, pos_dim].</param>
    /// <param name="inputMask">Padding mask [B, h', w'] (true on padding), resized (nearest) to H×W when it differs;
    /// used only when <paramref name="crossAttention"/> is set.</param>
    /// <param name="crossAttention">Whether the [DET] tokens attend to all [PATCH] tokens.</param>
    /// <returns>The stage output before merging [B, H·W + D, C], the merged tokens and their map size.</returns>
    public (Tensor Output, Tensor Merged, long MergedH, long MergedW) forward(Tensor x, long h, long w, Tensor detPos, Tensor inputMask, bool crossAttention)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(detPos);
        ArgumentNullException.ThrowIfNull(inputMask);
        using var scope = NewDisposeScope();
        var b = x.shape[0];
        var numDet = x.shape[1] - h * w;
        var shiftMask = ShiftMask(h, w, _windowSize).to(x.dtype).to(x.device);
        Tensor? patchPos = null;
        Tensor? crossMask = null;
        if (crossAttention)
        {
            var mask = inputMask;
            if (mask.shape[1] != h || mask.shape[2] != w)
            {
                mask = ResizeMask(mask, h, w);
            }
            patchPos = SinePositionEncoding.Masked(mask, Dim).to(x.dtype);
            crossMask = mask.to(x.dtype).mul(-100.0).view(b, 1, 1, h * w);
            crossMask = nn.functional.pad(crossMask, [0, numDet], value: 0);
        }
        foreach (var block in blocks)
        {
            x = block.forward(x, h, w, shiftMask, detPos, patchPos, crossMask);
        }
        var merged = downsample.forward(x, h, w);
        return (x.MoveToOuterDisposeScope(), merged.MoveToOuterDisposeScope(), (h + 1) / 2, (w + 1) / 2);
    }

    /// <summary>ViDT's mask resize: <c>F.interpolate(mask[None].float(), size=(h, w)).to(torch.bool)[0]</c> (nearest).</summary>
    public static Tensor ResizeMask(Tensor mask, long h, long w)
    {
        ArgumentNullException.ThrowIfNull(mask);
        using var scope = NewDisposeScope();
        var resized = nn.functional.interpolate(mask.unsqueeze(0).to(float32), [h, w], mode: InterpolationMode.Nearest);
        return resized.to(ScalarType.Bool)[0].MoveToOuterDisposeScope();
    }
}
