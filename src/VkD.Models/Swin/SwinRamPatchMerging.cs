using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// ViDT's patch merging (<c>PatchMerging</c> of <c>swin_w_ram.py</c>): each 2×2 group of [PATCH] tokens is concatenated
/// (x0 = (0,0), x1 = (1,0), x2 = (0,1), x3 = (1,1); odd sides zero-padded), each [DET] token repeated 4 times, then
/// LayerNorm(4C) and Linear(4C → out, no bias) on both. Keys <c>reduction.*</c>, <c>norm.*</c>, and <c>expansion.*</c>,
/// <c>norm2.*</c>, which ViDT's checkpoints hold but never use.
/// </summary>
public sealed class SwinRamPatchMerging : nn.Module
{
    private readonly Linear reduction;
    private readonly LayerNorm norm;
    private readonly Linear expansion;
    private readonly LayerNorm norm2;

    /// <summary>Creates the merge from <paramref name="dim"/> to <paramref name="outDim"/> channels (2·dim, or 256 in
    /// the last stage).</summary>
    public SwinRamPatchMerging(int dim, int outDim) : base(nameof(SwinRamPatchMerging))
    {
        OutDim = outDim;
        reduction = nn.Linear(4 * dim, outDim, hasBias: false);
        norm = nn.LayerNorm(4 * dim);
        expansion = nn.Linear(dim, outDim, hasBias: false);
        norm2 = nn.LayerNorm(dim);
        register_module("reduction", reduction);
        register_module("norm", norm);
        register_module("expansion", expansion);
        register_module("norm2", norm2);
    }

    /// <summary>Output width.</summary>
    public int OutDim { get; }

    /// <summary>Merges bound tokens [B, H·W + D, C] into [B, ⌈H/2⌉·⌈W/2⌉ + D, out].</summary>
    public Tensor forward(Tensor x, long h, long w)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        var b = x.shape[0];
        var c = x.shape[2];
        var n = h * w;
        var merged = SwinPatchMerging.Gather(x.narrow(1, 0, n).reshape(b, h, w, c));
        var det = x.narrow(1, n, x.shape[1] - n);
        var all = torch.cat([merged, det.repeat(1, 1, 4)], 1);
        return reduction.forward(norm.forward(all)).MoveToOuterDisposeScope();
    }
}
