using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Detection.Models;

/// <summary>
/// PyTorch's <c>nn.MultiheadAttention(d_model, n_heads, dropout)</c> as ViDT's decoder uses it (separate query, key
/// and value inputs, no masks), batch-first: packed <c>in_proj_weight</c> [3E, E] and <c>in_proj_bias</c> [3E],
/// scaled dot-product attention per head with dropout on the attention weights in training, <c>out_proj</c>. Keys equal
/// PyTorch's so ViDT checkpoints load one-to-one.
/// </summary>
public sealed class VidtMultiheadAttention : nn.Module
{
    private readonly int _numHeads;
    private readonly double _dropout;
    private readonly Parameter in_proj_weight;
    private readonly Parameter in_proj_bias;
    private readonly Linear out_proj;

    /// <summary>Creates the layer with PyTorch's initialisation (xavier-uniform <c>in_proj_weight</c>, zero biases,
    /// default Linear init of <c>out_proj.weight</c>).</summary>
    public VidtMultiheadAttention(int embedDim, int numHeads, double dropout = 0.0) : base(nameof(VidtMultiheadAttention))
    {
        if (embedDim % numHeads != 0)
        {
            throw new ArgumentException($"embed_dim {embedDim} must be divisible by num_heads {numHeads}.", nameof(numHeads));
        }
        EmbedDim = embedDim;
        _numHeads = numHeads;
        _dropout = dropout;
        in_proj_weight = new Parameter(torch.empty(3 * embedDim, embedDim));
        in_proj_bias = new Parameter(torch.zeros(3 * embedDim));
        out_proj = nn.Linear(embedDim, embedDim);
        register_parameter("in_proj_weight", in_proj_weight);
        register_parameter("in_proj_bias", in_proj_bias);
        register_module("out_proj", out_proj);
        using var noGrad = torch.no_grad();
        nn.init.xavier_uniform_(in_proj_weight);
        out_proj.bias!.zero_();
    }

    /// <summary>Width E.</summary>
    public int EmbedDim { get; }

    /// <summary>Attends <paramref name="query"/> [B, Lq, E] to <paramref name="key"/> / <paramref name="value"/>
    /// [B, Lk, E]; returns [B, Lq, E].</summary>
    public Tensor forward(Tensor query, Tensor key, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        using var scope = NewDisposeScope();
        var e = EmbedDim;
        var hd = e / _numHeads;
        var w = in_proj_weight.chunk(3);
        var b = in_proj_bias.chunk(3);
        Tensor Heads(Tensor x, int i) =>
            nn.functional.linear(x, w[i], b[i]).view(x.shape[0], x.shape[1], _numHeads, hd).transpose(1, 2);
        var q = Heads(query, 0) / Math.Sqrt(hd);
        var k = Heads(key, 1);
        var v = Heads(value, 2);
        var attn = torch.matmul(q, k.transpose(-2, -1)).softmax(-1);
        if (training && _dropout > 0)
        {
            attn = nn.functional.dropout(attn, _dropout, training: true);
        }
        var output = torch.matmul(attn, v).transpose(1, 2).reshape(query.shape[0], query.shape[1], e);
        return out_proj.forward(output).MoveToOuterDisposeScope();
    }
}
