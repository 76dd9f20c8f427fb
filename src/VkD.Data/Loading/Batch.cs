using static TorchSharp.torch;

namespace VkD.Data.Loading;

/// <summary>One mini-batch. Owns its tensors: dispose it (or move the tensors out) when the step is done.</summary>
public sealed class Batch : IDisposable
{
    internal Batch(Tensor images, Tensor labels, int[] indices, int epoch, int batchIndex)
    {
        Images = images;
        Labels = labels;
        Indices = indices;
        Epoch = epoch;
        BatchIndex = batchIndex;
    }

    /// <summary>float32 [B, C, H, W], normalised.</summary>
    public Tensor Images { get; }

    /// <summary>int64 [B] class labels.</summary>
    public Tensor Labels { get; }

    /// <summary>Dataset index of each sample.</summary>
    public IReadOnlyList<int> Indices { get; }

    /// <summary>Number of samples (smaller than the batch size for a last partial batch or skipped bad images).</summary>
    public int Count => Indices.Count;

    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; }

    /// <summary>Position of this batch in its epoch (0-based).</summary>
    public int BatchIndex { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
