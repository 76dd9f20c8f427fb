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
    private readonly LayerNorm norm1;
    private readonly Attention attn;
    private readonly DropPath drop_path1;
    private readonly LayerNorm norm2;
    private readonly Mlp mlp;
    private readonly DropPath drop_path2;

    /// <summary>Creates a block of width <paramref name="dim"/>.</summary>
    public TransformerBlock(int dim, int numHeads, double mlpRatio, bool qkvBias, double dropPath, double normEps)
        : base(nameof(TransformerBlock))
    {
        norm1 = nn.LayerNorm(dim, normEps);
        attn = new Attention(dim, numHeads, qkvBias);
        drop_path1 = new DropPath(dropPath);
        norm2 = nn.LayerNorm(dim, normEps);
        mlp = new Mlp(dim, (long)(dim * mlpRatio));
        drop_path2 = new DropPath(dropPath);
        register_module("norm1", norm1);
        register_module("attn", attn);
        register_module("drop_path1", drop_path1);
        register_module("norm2", norm2);
        register_module("mlp", mlp);
        register_module("drop_path2", drop_path2);
    }

    /// <summary>Stochastic-depth probability of this block.</summary>
    public double DropPathRate => drop_path1.P;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + drop_path1.call(attn.call(norm1.call(x)));
        x = x + drop_path2.call(mlp.call(norm2.call(x)));
        return x.MoveToOuterDisposeScope();
    }
}
