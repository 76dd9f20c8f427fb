using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// timm's pre-norm ViT block: <c>x + drop_path(attn(norm1(x)))</c>, then <c>x + drop_path(mlp(norm2(x)))</c>
/// (keys <c>norm1.*</c>, <c>attn.*</c>, <c>norm2.*</c>, <c>mlp.*</c>).
/// </summary>
public sealed class TransformerBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm _norm1;
    private readonly Attention _attn;
    private readonly DropPath _dropPath1;
    private readonly LayerNorm _norm2;
    private readonly Mlp _mlp;
    private readonly DropPath _dropPath2;

    /// <summary>Creates a block of width <paramref name="dim"/>.</summary>
    public TransformerBlock(int dim, int numHeads, double mlpRatio, bool qkvBias, double dropPath, double normEps)
        : base(nameof(TransformerBlock))
    {
        _norm1 = nn.LayerNorm(dim, normEps);
        _attn = new Attention(dim, numHeads, qkvBias);
        _dropPath1 = new DropPath(dropPath);
        _norm2 = nn.LayerNorm(dim, normEps);
        _mlp = new Mlp(dim, (long)(dim * mlpRatio));
        _dropPath2 = new DropPath(dropPath);
        register_module("norm1", _norm1);
        register_module("attn", _attn);
        register_module("drop_path1", _dropPath1);
        register_module("norm2", _norm2);
        register_module("mlp", _mlp);
        register_module("drop_path2", _dropPath2);
    }

    /// <summary>Stochastic-depth probability of this block.</summary>
    public double DropPathRate => _dropPath1.P;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + _dropPath1.forward(_attn.forward(_norm1.forward(x)));
        x = x + _dropPath2.forward(_mlp.forward(_norm2.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}
