using VkD.Data.Imaging;
using static TorchSharp.torch;

namespace VkD.Data.Transforms;

/// <summary>A composed per-image pipeline: 8-bit transforms, then ToTensor + Normalize into float CHW, then float
/// transforms (random erasing). The output size is fixed, so the loader can write samples straight into a batch.</summary>
public sealed class TransformPipeline
{
    /// <summary>Creates a pipeline whose 8-bit stage must end at <paramref name="height"/> x <paramref name="width"/>.</summary>
    public TransformPipeline(IReadOnlyList<IImageTransform> imageTransforms, Normalization normalization,
        IReadOnlyList<ITensorTransform> tensorTransforms, int height, int width)
    {
        ImageTransforms = imageTransforms;
        Normalization = normalization;
        TensorTransforms = tensorTransforms;
        Height = height;
        Width = width;
    }

    /// <summary>The 8-bit stage, in order.</summary>
    public IReadOnlyList<IImageTransform> ImageTransforms { get; }

    /// <summary>ToTensor + Normalize.</summary>
    public Normalization Normalization { get; }

    /// <summary>The float stage, in order.</summary>
    public IReadOnlyList<ITensorTransform> TensorTransforms { get; }

    /// <summary>Output channels (those of the normalisation).</summary>
    public int Channels => Normalization.Channels;

    /// <summary>Output height.</summary>
    public int Height { get; }

    /// <summary>Output width.</summary>
    public int Width { get; }

    /// <summary>Floats per output sample (C * H * W).</summary>
    public int SampleLength => Channels * Height * Width;

    /// <summary>Runs the pipeline on <paramref name="image"/> (which it may modify) and writes C*H*W floats.</summary>
    /// <exception cref="InvalidOperationException">The 8-bit stage did not end at the pipeline's size, or a 3-channel
    /// image meets a 1-channel normalisation.</exception>
    public void Run(ImageU8 image, DeterministicRandom rng, Span<float> destination)
    {
        foreach (var t in ImageTransforms)
        {
            image = t.Apply(image, rng);
        }
        if (image.Width != Width || image.Height != Height)
        {
            throw new InvalidOperationException(
                $"Pipeline produced a {image.Width}x{image.Height} image but is declared {Width}x{Height}; end it with a crop or resize to that size.");
        }
        if (image.Channels == 1 && Channels == 3)
        {
            image = image.ToRgb();
        }
        else if (image.Channels != Channels)
        {
            throw new InvalidOperationException($"Pipeline normalises {Channels} channel(s) but the image has {image.Channels}; use a grey normalisation or drop colour first.");
        }
        var sample = destination[..SampleLength];
        Normalization.Apply(image, sample);
        foreach (var t in TensorTransforms)
        {
            t.Apply(sample, Channels, Height, Width, rng);
        }
    }

    /// <summary>Runs the pipeline and returns a float32 [C, H, W] tensor.</summary>
    public Tensor RunToTensor(ImageU8 image, DeterministicRandom rng)
    {
        var buffer = new float[SampleLength];
        Run(image, rng, buffer);
        return tensor(buffer, [Channels, Height, Width]);
    }
}
