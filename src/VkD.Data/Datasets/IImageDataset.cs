using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>A labelled image classification set with lazy access: <see cref="LoadImage"/> decodes one image when asked.
/// Implementations must be safe to call from several loader threads at once.</summary>
public interface IImageDataset
{
    /// <summary>Number of images.</summary>
    int Count { get; }

    /// <summary>Class names; label <c>k</c> is <c>ClassNames[k]</c>.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>The label (class index) of image <paramref name="index"/>, without decoding it.</summary>
    int GetLabel(int index);

    /// <summary>Decodes image <paramref name="index"/> (HWC, 1 or 3 channels). A caller may modify the result.</summary>
    ImageU8 LoadImage(int index);

    /// <summary>Where image <paramref name="index"/> comes from (a file path, or "file#index"), for messages.</summary>
    string Describe(int index);

    /// <summary>The file image <paramref name="index"/> is decoded from, or null when images are not one file each
    /// (IDX, CSV, arrays); <see cref="ImagePreflight"/> checks those files before a run.</summary>
    string? FilePath(int index) => null;
}

/// <summary>Which half of a dataset to open.</summary>
public enum DataSplit
{
    /// <summary>The training images.</summary>
    Train,

    /// <summary>The validation / test images.</summary>
    Val,
}
