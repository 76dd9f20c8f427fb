using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>A dataset seen through fixed per-image preprocessing done at load time: grey expanded to three channels
/// and/or a resize (PIL bicubic) to a fixed size. Labels and classes are those of the inner set.</summary>
public sealed class DatasetView(IImageDataset inner, bool expandToRgb, int? resizeTo = null) : IImageDataset
{
    /// <summary>The wrapped dataset.</summary>
    public IImageDataset Inner { get; } = inner;

    /// <inheritdoc />
    public int Count => Inner.Count;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => Inner.ClassNames;

    /// <inheritdoc />
    public int GetLabel(int index) => Inner.GetLabel(index);

    /// <inheritdoc />
    public ImageU8 LoadImage(int index)
    {
        var image = Inner.LoadImage(index);
        if (resizeTo is int size && (image.Width != size || image.Height != size))
        {
            image = Resampler.Resize(image, size, size, Interpolation.Bicubic);
        }
        return expandToRgb ? image.ToRgb() : image;
    }

    /// <inheritdoc />
    public string Describe(int index) => Inner.Describe(index);

    /// <inheritdoc />
    public string? FilePath(int index) => Inner.FilePath(index);
}
