using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// timm's <c>SEModule</c>: global average → 1×1 conv (<c>fc1</c>) → ReLU → 1×1 conv (<c>fc2</c>) → sigmoid gate.
/// </summary>
public sealed class SqueezeExcite : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d fc1;
    private readonly Conv2d fc2;

    /// <summary>Creates the gate for <paramref name="channels"/> with <paramref name="reducedChannels"/> in between.</summary>
    public SqueezeExcite(long channels, long reducedChannels) : base(nameof(SqueezeExcite))
    {
        fc1 = nn.Conv2d(channels, reducedChannels, kernel_size: 1);
        fc2 = nn.Conv2d(reducedChannels, channels, kernel_size: 1);
        register_module("fc1", fc1);
        register_module("fc2", fc2);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var s = x.mean([2L, 3L], keepdim: true);
        s = fc2.call(nn.functional.relu(fc1.call(s)));
        return (x * s.sigmoid()).MoveToOuterDisposeScope();
    }
}
