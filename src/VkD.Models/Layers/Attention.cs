using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// timm's multi-head self-attention: one fused <c>qkv</c> projection, scaled dot-product attention, output
/// <c>proj</c> (keys <c>qkv.*</c>, <c>proj.*</c>).
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    private readonly int _numHeads;
    private readonly Linear qkv;
    private readonly Linear proj;

    /// <summary>Creates the layer for width <paramref name="dim"/> split over <paramref name="numHeads"/> heads.</summary>
    public Attention(int dim, int numHeads, bool qkvBias = true) : base(nameof(Attention))
    {
        if (dim % numHeads != 0)
        {
            throw new ArgumentException($"Attention width {dim} is not divisible by {numHeads} heads.", nameof(numHeads));
        }
        _numHeads = numHeads;
        qkv = nn.Linear(dim, dim * 3, hasBias: qkvBias);
        proj = nn.Linear(dim, dim);
        register_module("qkv", qkv);
        register_module("proj", proj);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b = x.shape[0];
        var n = x.shape[1];
        var c = x.shape[2];
        // [B, N, 3, H, hd] -> [3, B, H, N, hd], the layout timm uses.
        var packed = qkv.call(x).reshape(b, n, 3, _numHeads, c / _numHeads).permute(2, 0, 3, 1, 4);
        var q = packed[0];
        var k = packed[1];
        var v = packed[2];
        var attended = nn.functional.scaled_dot_product_attention(q, k, v);
        return proj.call(attended.transpose(1, 2).reshape(b, n, c)).MoveToOuterDisposeScope();
    }
}
