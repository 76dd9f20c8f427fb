using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// Stochastic depth (timm's <c>DropPath</c>): in training, zeroes the whole residual branch of a sample with
/// probability <c>p</c> and scales the kept ones by <c>1/(1-p)</c>; identity in eval mode or when <c>p = 0</c>.
/// </summary>
public sealed class DropPath : nn.Module<Tensor, Tensor>
{
    private readonly double _p;

    /// <summary>Creates the layer with drop probability <paramref name="p"/>.</summary>
    public DropPath(double p) : base(nameof(DropPath))
    {
        if (p is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "Drop-path probability must be in [0, 1).");
        }
        _p = p;
    }

    /// <summary>The drop probability.</summary>
    public double P => _p;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (_p == 0 || !training)
        {
            return x.alias();
        }
        using var scope = NewDisposeScope();
        var keep = 1 - _p;
        // One Bernoulli draw per sample, broadcast over every other dimension.
        var shape = new long[x.dim()];
        shape[0] = x.shape[0];
        for (var i = 1; i < shape.Length; i++)
        {
            shape[i] = 1;
        }
        var mask = torch.empty(shape, x.dtype, x.device).bernoulli_(keep).div_(keep);
        return (x * mask).MoveToOuterDisposeScope();
    }
}
