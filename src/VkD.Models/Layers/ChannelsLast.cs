using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// libtorch's <c>torch.channels_last</c> memory format for 4-D tensors: NCHW shape, NHWC strides. libtorch picks the
/// layout of a convolution from its input's and weight's strides, and oneDNN's NHWC kernels are the faster ones on this
/// CPU (docs/benchmarks.md). TorchSharp 0.107 has no <c>memory_format</c> argument on <c>contiguous()</c>, so the layout
/// is made by permuting to NHWC, copying, and permuting the view back.
/// </summary>
public static class ChannelsLast
{
    /// <summary>A channels-last copy of the 4-D <paramref name="t"/> (same shape and values, NHWC strides).</summary>
    public static Tensor Copy(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dim() != 4)
        {
            throw new ArgumentException($"channels_last is a layout of 4-D tensors; this one has shape [{string.Join(", ", t.shape)}].", nameof(t));
        }
        using var nhwc = t.permute(0, 2, 3, 1).contiguous();
        return nhwc.permute(0, 3, 1, 2);
    }

    /// <summary>True if the 4-D <paramref name="t"/> is laid out channels-last (channels innermost).</summary>
    public static bool Is(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dim() != 4)
        {
            return false;
        }
        var s = t.stride();
        var n = t.shape;
        return s[1] == 1 && s[3] == n[1] && s[2] == n[1] * n[3] && s[0] == n[1] * n[2] * n[3];
    }

    /// <summary>Lays out the weight of every Conv2d of <paramref name="model"/> channels-last (inference: the new
    /// weights keep the old ones' <c>requires_grad</c>). <c>Module.to(dtype)</c> keeps the layout afterwards.</summary>
    /// <returns>The number of convolutions converted.</returns>
    public static int Apply(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = no_grad();
        var count = 0;
        foreach (var conv in model.modules().OfType<Conv2d>())
        {
            var w = conv.weight;
            conv.weight = nn.Parameter(Copy(w), requires_grad: w.requires_grad);
            count++;
        }
        return count;
    }
}
