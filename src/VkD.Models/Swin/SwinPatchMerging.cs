using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Swin;

/// <summary>
/// Swin's <c>PatchMerging</c>: each 2×2 group of tokens is concatenated (x0 = (0,0), x1 = (1,0), x2 = (0,1),
/// x3 = (1,1); odd sides zero-padded), then LayerNorm(4C) and Linear(4C → 2C, no bias). Keys <c>reduction.*</c>,
/// <c>norm.*</c>.
/// </summary>
public sealed class SwinPatchMerging : nn.Module
{
    private readonly Linear reduction;
    private readonly LayerNorm norm;

    /// <summary>Creates the merge from <paramref name="dim"/> to 2·<paramref name="dim"/> channels.</summary>
    public SwinPatchMerging(int dim) : base(nameof(SwinPatchMerging))
    {
        reduction = nn.Linear(4 * dim, 2 * dim, hasBias: false);
        norm = nn.LayerNorm(4 * dim);
        register_module("reduction", reduction);
        register_module("norm", norm);
    }

    /// <summary>Merges tokens [B, H·W, C] into [B, ⌈H/2⌉·⌈W/2⌉, 2C].</summary>
    public Tensor forward(Tensor x, long h, long w)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        var merged = Gather(x.reshape(x.shape[0], h, w, x.shape[2]));
        return reduction.forward(norm.forward(merged)).MoveToOuterDisposeScope();
    }

    /// <summary>The 2×2 concatenation of a map [B, H, W, C] (odd sides zero-padded): [B, ⌈H/2⌉·⌈W/2⌉, 4C].</summary>
    public static Tensor Gather(Tensor p)
    {
        ArgumentNullException.ThrowIfNull(p);
        using var scope = NewDisposeScope();
        var (b, h, w, c) = (p.shape[0], p.shape[1], p.shape[2], p.shape[3]);
        if (h % 2 == 1 || w % 2 == 1)
        {
            p = nn.functional.pad(p, [0, 0, 0, w % 2, 0, h % 2]);
        }
        var hp = p.shape[1];
        var wp = p.shape[2];
        Tensor Take(long dy, long dx) => p.slice(1, dy, hp, 2).slice(2, dx, wp, 2);
        return torch.cat([Take(0, 0), Take(1, 0), Take(0, 1), Take(1, 1)], -1).reshape(b, -1, 4 * c).MoveToOuterDisposeScope();
    }
}
