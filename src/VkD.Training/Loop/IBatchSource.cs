using static TorchSharp.torch;

namespace VkD.Training.Loop;

/// <summary>One batch: normalised images [B, C, H, W], int64 labels [B], and the dataset indices of the images.</summary>
/// <param name="Images">Image batch.</param>
/// <param name="Labels">Class labels.</param>
/// <param name="Indices">Dataset index of each image (for per-image predictions).</param>
public sealed record Batch(Tensor Images, Tensor Labels, IReadOnlyList<int> Indices) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Where the training loop's batches come from: a fixed number of batches per epoch, and for any epoch the same
/// batches in the same order, from any batch position, so a run resumed mid-epoch sees exactly the batches it would
/// have seen.
/// </summary>
/// <typeparam name="TBatch">The task's batch type (the caller disposes each).</typeparam>
public interface IBatchSource<out TBatch>
{
    /// <summary>Examples in the dataset (this rank's shard for training).</summary>
    int Count { get; }

    /// <summary>Batches per epoch.</summary>
    int BatchesPerEpoch { get; }

    /// <summary>The batches of <paramref name="epoch"/> from <paramref name="startBatch"/> on; the caller disposes each.</summary>
    IEnumerable<TBatch> GetEpoch(int epoch, int startBatch = 0);
}

/// <summary>Classification batches: images and labels, with the number of classes and a label for each image.</summary>
public interface IBatchSource : IBatchSource<Batch>
{
    /// <summary>Number of classes.</summary>
    int NumClasses { get; }

    /// <summary>A printable label of the image at <paramref name="index"/> (its file path, or its index).</summary>
    string Describe(int index) => index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A batch-level augmentation applied after loading (Mixup/CutMix): returns images and soft targets.</summary>
public interface IBatchMixer
{
    /// <summary>Mixes <paramref name="images"/> and turns <paramref name="labels"/> into soft targets, drawing its
    /// randomness from <paramref name="seed"/> so a step is reproducible on its own.</summary>
    (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor labels, long seed);
}
