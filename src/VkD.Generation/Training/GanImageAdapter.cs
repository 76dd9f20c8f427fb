using static TorchSharp.torch;

namespace VkD.Generation.Training;

/// <summary>
/// Turns the GAN's images (in [-1, 1], [B, C, 32, 32]) into the input a frozen network expects (the distillation
/// teacher, the FID feature network): the 32×32 padding removed back to the data's native side, resized to the
/// network's side (bilinear; antialiased when shrinking), grey repeated to three channels or RGB reduced to luma,
/// then normalised per channel with the mean and std the network was trained with. Differentiable, although the
/// teachers never need it.
/// </summary>
public sealed class GanImageAdapter
{
    /// <summary>Creates the adapter.</summary>
    /// <param name="nativeSize">Side of the data before padding to 32 (28 for MNIST).</param>
    /// <param name="outputSize">Side the network takes (0: the native side).</param>
    /// <param name="outputChannels">Channels the network takes (1 or 3).</param>
    /// <param name="mean">Per-channel mean of the network's normalisation (values in [0, 1]); one value per output channel.</param>
    /// <param name="std">Per-channel std of the network's normalisation.</param>
    public GanImageAdapter(int nativeSize, int outputSize, int outputChannels, IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (nativeSize is <= 0 or > 32 || outputSize < 0 || outputChannels is not (1 or 3) || mean.Count != outputChannels || std.Count != outputChannels || std.Any(s => !(s > 0)))
        {
            throw new ArgumentException($"Image adapter: native side {nativeSize} (1..32), output side {outputSize} (0 = native), {outputChannels} channel(s) " +
                $"with {mean.Count} mean and {std.Count} std values (one positive std per channel).");
        }
        NativeSize = nativeSize;
        OutputSize = outputSize == 0 ? nativeSize : outputSize;
        OutputChannels = outputChannels;
        Mean = [.. mean];
        Std = [.. std];
    }

    /// <summary>ImageNet's normalisation for a three-channel network (the ONNX teachers' default batch normalisation).</summary>
    public static GanImageAdapter ImageNet(int nativeSize, int outputSize) =>
        new(nativeSize, outputSize, 3, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    /// <summary>Side of the data before padding.</summary>
    public int NativeSize { get; }

    /// <summary>Side of the network input.</summary>
    public int OutputSize { get; }

    /// <summary>Channels of the network input.</summary>
    public int OutputChannels { get; }

    /// <summary>Per-channel mean.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>Per-channel std.</summary>
    public IReadOnlyList<double> Std { get; }

    /// <summary>The network input for <paramref name="images"/>.</summary>
    public Tensor Apply(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.ndim != 4 || images.shape[2] < NativeSize || images.shape[3] < NativeSize || images.shape[1] is not (1 or 3))
        {
            throw new ArgumentException($"Image adapter takes images [B, 1|3, >= {NativeSize}, >= {NativeSize}], got [{string.Join(", ", images.shape)}].", nameof(images));
        }
        using var scope = NewDisposeScope();
        var x = images;
        var (h, w) = (x.shape[2], x.shape[3]);
        if (h != NativeSize || w != NativeSize)
        {
            x = x.narrow(2, (h - NativeSize) / 2, NativeSize).narrow(3, (w - NativeSize) / 2, NativeSize);
        }
        if (OutputSize != NativeSize)
        {
            x = nn.functional.interpolate(x, [OutputSize, OutputSize], mode: InterpolationMode.Bilinear, align_corners: false, antialias: OutputSize < NativeSize);
        }
        if (x.shape[1] != OutputChannels)
        {
            x = OutputChannels == 3
                ? x.expand(-1, 3, -1, -1)
                : (0.299 * x[.., 0..1] + 0.587 * x[.., 1..2] + 0.114 * x[.., 2..3]);
        }
        var mean = tensor(Mean.Select(m => (float)m).ToArray(), dtype: x.dtype, device: x.device).view(1, -1, 1, 1);
        var std = tensor(Std.Select(s => (float)s).ToArray(), dtype: x.dtype, device: x.device).view(1, -1, 1, 1);
        return ((((x + 1) * 0.5) - mean) / std).contiguous().MoveToOuterDisposeScope();
    }
}
