using VkD.Data.Imaging;

namespace VkD.Data.Transforms;

/// <summary>A per-image transform on 8-bit HWC images. Random transforms draw only from the generator they are given,
/// so the result is a pure function of (image, generator state).</summary>
public interface IImageTransform
{
    /// <summary>Transforms <paramref name="image"/>; may modify it in place and return it, or return a new image.</summary>
    ImageU8 Apply(ImageU8 image, DeterministicRandom rng);
}

/// <summary>A per-image transform on a normalised float CHW image (after <see cref="Normalization"/>), e.g. random erasing.</summary>
public interface ITensorTransform
{
    /// <summary>Transforms the CHW values in <paramref name="chw"/> in place.</summary>
    void Apply(Span<float> chw, int channels, int height, int width, DeterministicRandom rng);
}
