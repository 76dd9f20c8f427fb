using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Detection.Data;

/// <summary>
/// One model-ready example: the image as a normalised float32 [3, H, W] tensor and its targets with boxes as
/// normalised [cx, cy, w, h] (ViDT's <c>ToTensor</c> + <c>Normalize</c>). Owns its tensors.
/// </summary>
public sealed class DetectionExample : IDisposable
{
    /// <summary>ImageNet mean used by ViDT's Normalize.</summary>
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet std used by ViDT's Normalize.</summary>
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    private DetectionExample(Tensor image, Tensor boxes, Tensor labels, DetectionTarget target)
    {
        Image = image;
        Boxes = boxes;
        Labels = labels;
        Target = target;
    }

    /// <summary>Normalised image, float32 [3, H, W].</summary>
    public Tensor Image { get; }

    /// <summary>Boxes, float32 [N, 4], normalised [cx, cy, w, h].</summary>
    public Tensor Boxes { get; }

    /// <summary>Raw category ids, int64 [N].</summary>
    public Tensor Labels { get; }

    /// <summary>The same targets as arrays, with image id, original and current size.</summary>
    public DetectionTarget Target { get; }

    /// <summary>ToTensor (bytes / 255 in float32) then Normalize ((x - mean) / std in float32), and the boxes
    /// normalised to [cx, cy, w, h].</summary>
    public static DetectionExample Create(DetectionImage image, DetectionTarget target)
    {
        int h = image.Height, w = image.Width, plane = h * w;
        var pixels = new float[3 * plane];
        var rgba = image.Rgba;
        for (var c = 0; c < 3; c++)
        {
            float mean = ImageNetMean[c], std = ImageNetStd[c];
            for (var p = 0; p < plane; p++)
            {
                pixels[(c * plane) + p] = ((rgba[(p * 4) + c] / 255f) - mean) / std;
            }
        }
        var normalized = DetectionTransforms.NormalizeBoxes(target, w, h);
        var imageTensor = torch.tensor(pixels, [3L, h, w]);
        var boxes = torch.tensor(normalized.Boxes, [(long)normalized.Count, 4L]);
        var labels = torch.tensor(normalized.Labels, [(long)normalized.Count]);
        return new DetectionExample(imageTensor, boxes, labels, normalized);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Image.Dispose();
        Boxes.Dispose();
        Labels.Dispose();
    }
}

/// <summary>A padded batch (DETR/ViDT's <c>NestedTensor</c>): images zero-padded at the bottom and right to the
/// batch's largest H and W, and a mask that is true on padding. Owns its tensors and examples.</summary>
public sealed class DetectionBatch : IDisposable
{
    /// <summary>Pads <paramref name="examples"/> into one batch; the batch takes ownership of them.</summary>
    /// <exception cref="ArgumentException">No examples.</exception>
    public DetectionBatch(IReadOnlyList<DetectionExample> examples)
    {
        if (examples.Count == 0)
        {
            throw new ArgumentException("A batch needs at least one example.", nameof(examples));
        }
        Examples = examples;
        (Images, Mask) = DetectionCollate.Pad(examples.Select(e => e.Image).ToList());
    }

    /// <summary>Images, float32 [B, 3, Hmax, Wmax], zero on padding.</summary>
    public Tensor Images { get; }

    /// <summary>Padding mask, bool [B, Hmax, Wmax], true on padding.</summary>
    public Tensor Mask { get; }

    /// <summary>The examples (targets) in batch order.</summary>
    public IReadOnlyList<DetectionExample> Examples { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Mask.Dispose();
        foreach (var e in Examples)
        {
            e.Dispose();
        }
    }
}

/// <summary>ViDT's <c>nested_tensor_from_tensor_list</c>.</summary>
public static class DetectionCollate
{
    /// <summary>Zero-pads [C, H, W] images to the largest C, H and W and returns them with a bool mask that is true
    /// on padding.</summary>
    public static (Tensor Images, Tensor Mask) Pad(IReadOnlyList<Tensor> images)
    {
        if (images.Count == 0)
        {
            throw new ArgumentException("Nothing to pad.", nameof(images));
        }
        foreach (var img in images)
        {
            if (img.ndim != 3)
            {
                throw new ArgumentException($"Images must be [C, H, W]; got shape [{string.Join(", ", img.shape)}].", nameof(images));
            }
        }
        long c = images.Max(i => i.shape[0]), h = images.Max(i => i.shape[1]), w = images.Max(i => i.shape[2]);
        using var scope = torch.NewDisposeScope();
        var batch = torch.zeros([images.Count, c, h, w], images[0].dtype, images[0].device);
        var mask = torch.ones([images.Count, h, w], ScalarType.Bool, images[0].device);
        for (var b = 0; b < images.Count; b++)
        {
            var img = images[b];
            long ic = img.shape[0], ih = img.shape[1], iw = img.shape[2];
            batch[b, TensorIndex.Slice(0, ic), TensorIndex.Slice(0, ih), TensorIndex.Slice(0, iw)].copy_(img);
            mask[b, TensorIndex.Slice(0, ih), TensorIndex.Slice(0, iw)].fill_(false);
        }
        return (batch.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }
}
