namespace VkD.Detection.Data;

/// <summary>
/// The targets of one image while it moves through the detection transforms: DETR/ViDT's target dict with
/// <c>boxes</c> (float32 [x1, y1, x2, y2] in pixels), <c>labels</c> (raw category ids), <c>area</c>,
/// <c>iscrowd</c>, <c>image_id</c>, <c>orig_size</c> and <c>size</c>. Arithmetic is float32 like the PyTorch tensors.
/// </summary>
public sealed class DetectionTarget
{
    /// <summary>Creates a target; <paramref name="boxes"/> holds 4 values per object.</summary>
    /// <exception cref="ArgumentException">Array lengths disagree.</exception>
    public DetectionTarget(long imageId, float[] boxes, long[] labels, float[] area, bool[] isCrowd,
        (int Height, int Width) origSize, (int Height, int Width) size)
    {
        if (boxes.Length != labels.Length * 4 || area.Length != labels.Length || isCrowd.Length != labels.Length)
        {
            throw new ArgumentException(
                $"Image {imageId}: {boxes.Length} box values, {labels.Length} labels, {area.Length} areas, {isCrowd.Length} crowd flags do not describe the same objects.");
        }
        ImageId = imageId;
        Boxes = boxes;
        Labels = labels;
        Area = area;
        IsCrowd = isCrowd;
        OrigSize = origSize;
        Size = size;
    }

    /// <summary>COCO image id.</summary>
    public long ImageId { get; }

    /// <summary>Boxes, 4 floats per object: [x1, y1, x2, y2] pixels until <see cref="DetectionTransforms.NormalizeBoxes"/>
    /// turns them into normalised [cx, cy, w, h].</summary>
    public float[] Boxes { get; }

    /// <summary>Category ids as in the COCO file (ViDT: raw ids with num_classes 91).</summary>
    public long[] Labels { get; }

    /// <summary>Object areas (scaled with the image; cropped objects get their box area, as in DETR).</summary>
    public float[] Area { get; }

    /// <summary>Crowd flags (always false after <see cref="CocoTargetConverter"/>, which drops crowds as ViDT does).</summary>
    public bool[] IsCrowd { get; }

    /// <summary>Size of the decoded image before any transform.</summary>
    public (int Height, int Width) OrigSize { get; }

    /// <summary>Size of the image after the transforms so far.</summary>
    public (int Height, int Width) Size { get; }

    /// <summary>Number of objects.</summary>
    public int Count => Labels.Length;

    /// <summary>A copy with new boxes/areas/size, objects filtered by <paramref name="keep"/> (null keeps all).</summary>
    internal DetectionTarget With(float[] boxes, float[] area, (int Height, int Width) size, bool[]? keep = null)
    {
        if (keep is null)
        {
            return new DetectionTarget(ImageId, boxes, (long[])Labels.Clone(), area, (bool[])IsCrowd.Clone(), OrigSize, size);
        }
        var n = keep.Count(k => k);
        var b = new float[n * 4];
        var l = new long[n];
        var a = new float[n];
        var c = new bool[n];
        var w = 0;
        for (var i = 0; i < keep.Length; i++)
        {
            if (!keep[i])
            {
                continue;
            }
            Array.Copy(boxes, i * 4, b, w * 4, 4);
            l[w] = Labels[i];
            a[w] = area[i];
            c[w] = IsCrowd[i];
            w++;
        }
        return new DetectionTarget(ImageId, b, l, a, c, OrigSize, size);
    }
}
