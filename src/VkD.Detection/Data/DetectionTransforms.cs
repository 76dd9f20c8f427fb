namespace VkD.Detection.Data;

/// <summary>One step of a detection augmentation pipeline (ViDT's <c>datasets/transforms.py</c>): image and targets
/// change together. Randomness comes only from the <c>rng</c> argument, so a pipeline is deterministic given a seed.</summary>
public interface IDetectionTransform
{
    /// <summary>Applies the step.</summary>
    /// <param name="image">Input image.</param>
    /// <param name="target">Its targets (boxes in pixels, [x1, y1, x2, y2]).</param>
    /// <param name="rng">Random source.</param>
    (DetectionImage Image, DetectionTarget Target) Apply(DetectionImage image, DetectionTarget target, Random rng);
}

/// <summary>The deterministic operations behind the transforms: ViDT's <c>hflip</c>, <c>crop</c> and <c>resize</c>
/// (with its rounding of H and W down to a multiple of 16). Box arithmetic is float32 as in PyTorch.</summary>
public static class DetectionTransforms
{
    /// <summary>ViDT's <c>get_size_with_aspect_ratio</c>: the (height, width) an image of
    /// <paramref name="width"/> x <paramref name="height"/> is resized to for shortest side <paramref name="size"/>
    /// capped by <paramref name="maxSize"/>, each rounded down to a multiple of 16.</summary>
    /// <exception cref="ArgumentException">The result would be empty (images smaller than 16 px).</exception>
    public static (int Height, int Width) ResizedSize(int width, int height, int size, int? maxSize)
    {
        if (maxSize is { } max)
        {
            double minOriginal = Math.Min(width, height);
            double maxOriginal = Math.Max(width, height);
            if (maxOriginal / minOriginal * size > max)
            {
                // Python's round() is half to even, like Math.Round's default.
                size = (int)Math.Round(max * minOriginal / maxOriginal);
            }
        }
        int oh, ow;
        if ((width <= height && width == size) || (height <= width && height == size))
        {
            oh = height;
            ow = width;
        }
        else if (width < height)
        {
            ow = size;
            oh = (int)((double)size * height / width);
        }
        else
        {
            oh = size;
            ow = (int)((double)size * width / height);
        }
        oh -= oh % 16;
        ow -= ow % 16;
        if (oh <= 0 || ow <= 0)
        {
            throw new ArgumentException($"Resizing {width}x{height} to shortest side {size} gives an empty image after rounding down to a multiple of 16.");
        }
        return (oh, ow);
    }

    /// <summary>ViDT's <c>resize</c>: resizes the image and scales boxes by the float32 width/height ratios and
    /// areas by their product.</summary>
    public static (DetectionImage Image, DetectionTarget Target) Resize(DetectionImage image, DetectionTarget target, int size, int? maxSize)
    {
        var (oh, ow) = ResizedSize(image.Width, image.Height, size, maxSize);
        var resized = image.Resize(ow, oh);
        var ratioWidth = (double)ow / image.Width;
        var ratioHeight = (double)oh / image.Height;
        float rw = (float)ratioWidth, rh = (float)ratioHeight;
        var boxes = new float[target.Boxes.Length];
        for (var i = 0; i < boxes.Length; i += 4)
        {
            boxes[i] = target.Boxes[i] * rw;
            boxes[i + 1] = target.Boxes[i + 1] * rh;
            boxes[i + 2] = target.Boxes[i + 2] * rw;
            boxes[i + 3] = target.Boxes[i + 3] * rh;
        }
        var areaScale = (float)(ratioWidth * ratioHeight);
        var area = target.Area.Select(a => a * areaScale).ToArray();
        return (resized, target.With(boxes, area, (oh, ow)));
    }

    /// <summary>ViDT's <c>hflip</c>: x1' = w - x2, x2' = w - x1.</summary>
    public static (DetectionImage Image, DetectionTarget Target) HorizontalFlip(DetectionImage image, DetectionTarget target)
    {
        var w = (float)image.Width;
        var boxes = new float[target.Boxes.Length];
        for (var i = 0; i < boxes.Length; i += 4)
        {
            boxes[i] = (-target.Boxes[i + 2]) + w;
            boxes[i + 1] = target.Boxes[i + 1];
            boxes[i + 2] = (-target.Boxes[i]) + w;
            boxes[i + 3] = target.Boxes[i + 3];
        }
        return (image.FlipHorizontal(), target.With(boxes, (float[])target.Area.Clone(), target.Size));
    }

    /// <summary>ViDT's <c>crop</c>: shifts boxes, clips them to the region, sets area to the clipped box area and drops
    /// objects left with no width or height.</summary>
    public static (DetectionImage Image, DetectionTarget Target) Crop(DetectionImage image, DetectionTarget target,
        int top, int left, int height, int width)
    {
        var n = target.Count;
        var boxes = new float[n * 4];
        var area = new float[n];
        var keep = new bool[n];
        for (var o = 0; o < n; o++)
        {
            var i = o * 4;
            var x1 = Math.Max(Math.Min(target.Boxes[i] - left, width), 0f);
            var y1 = Math.Max(Math.Min(target.Boxes[i + 1] - top, height), 0f);
            var x2 = Math.Max(Math.Min(target.Boxes[i + 2] - left, width), 0f);
            var y2 = Math.Max(Math.Min(target.Boxes[i + 3] - top, height), 0f);
            (boxes[i], boxes[i + 1], boxes[i + 2], boxes[i + 3]) = (x1, y1, x2, y2);
            area[o] = (x2 - x1) * (y2 - y1);
            keep[o] = x2 > x1 && y2 > y1;
        }
        return (image.Crop(top, left, height, width), target.With(boxes, area, (height, width), keep));
    }

    /// <summary>ViDT's <c>Normalize</c> after <c>ToTensor</c>'s geometry: boxes become [cx, cy, w, h] divided by the
    /// image width and height (float32).</summary>
    public static DetectionTarget NormalizeBoxes(DetectionTarget target, int width, int height)
    {
        float w = width, h = height;
        var boxes = new float[target.Boxes.Length];
        for (var i = 0; i < boxes.Length; i += 4)
        {
            float x0 = target.Boxes[i], y0 = target.Boxes[i + 1], x1 = target.Boxes[i + 2], y1 = target.Boxes[i + 3];
            boxes[i] = (x0 + x1) / 2 / w;
            boxes[i + 1] = (y0 + y1) / 2 / h;
            boxes[i + 2] = (x1 - x0) / w;
            boxes[i + 3] = (y1 - y0) / h;
        }
        return target.With(boxes, (float[])target.Area.Clone(), target.Size);
    }
}

/// <summary>ViDT's <c>RandomHorizontalFlip(p)</c>.</summary>
/// <param name="P">Flip probability.</param>
public sealed record RandomHorizontalFlip(double P = 0.5) : IDetectionTransform
{
    /// <inheritdoc />
    public (DetectionImage Image, DetectionTarget Target) Apply(DetectionImage image, DetectionTarget target, Random rng) =>
        rng.NextDouble() < P ? DetectionTransforms.HorizontalFlip(image, target) : (image, target);
}

/// <summary>ViDT's <c>RandomResize(sizes, max_size)</c>: a uniformly chosen shortest side.</summary>
/// <param name="Sizes">Candidate shortest sides.</param>
/// <param name="MaxSize">Cap on the longest side, or null.</param>
public sealed record RandomResize(IReadOnlyList<int> Sizes, int? MaxSize = null) : IDetectionTransform
{
    /// <inheritdoc />
    public (DetectionImage Image, DetectionTarget Target) Apply(DetectionImage image, DetectionTarget target, Random rng) =>
        DetectionTransforms.Resize(image, target, Sizes[rng.Next(Sizes.Count)], MaxSize);
}

/// <summary>ViDT's <c>RandomSizeCrop(min, max)</c>: crop width and height uniform in [min, min(side, max)], then a
/// uniform position. Unlike Python, which raises when a side is below <paramref name="MinSize"/>, the range is clamped
/// to the side.</summary>
/// <param name="MinSize">Smallest crop side.</param>
/// <param name="MaxSize">Largest crop side.</param>
public sealed record RandomSizeCrop(int MinSize, int MaxSize) : IDetectionTransform
{
    /// <inheritdoc />
    public (DetectionImage Image, DetectionTarget Target) Apply(DetectionImage image, DetectionTarget target, Random rng)
    {
        var w = Uniform(rng, MinSize, Math.Min(image.Width, MaxSize));
        var h = Uniform(rng, MinSize, Math.Min(image.Height, MaxSize));
        // torchvision RandomCrop.get_params: i in [0, H - h], j in [0, W - w].
        var top = rng.Next(image.Height - h + 1);
        var left = rng.Next(image.Width - w + 1);
        return DetectionTransforms.Crop(image, target, top, left, h, w);
    }

    private static int Uniform(Random rng, int lo, int hi) => rng.Next(Math.Min(lo, hi), hi + 1);
}

/// <summary>ViDT's <c>RandomSelect(t1, t2, p)</c>: <paramref name="First"/> with probability <paramref name="P"/>.</summary>
/// <param name="First">Transform taken with probability P.</param>
/// <param name="Second">Transform taken otherwise.</param>
/// <param name="P">Probability of the first.</param>
public sealed record RandomSelect(IDetectionTransform First, IDetectionTransform Second, double P = 0.5) : IDetectionTransform
{
    /// <inheritdoc />
    public (DetectionImage Image, DetectionTarget Target) Apply(DetectionImage image, DetectionTarget target, Random rng) =>
        rng.NextDouble() < P ? First.Apply(image, target, rng) : Second.Apply(image, target, rng);
}

/// <summary>Applies transforms in order.</summary>
/// <param name="Steps">The transforms.</param>
public sealed record ComposeTransforms(IReadOnlyList<IDetectionTransform> Steps) : IDetectionTransform
{
    /// <inheritdoc />
    public (DetectionImage Image, DetectionTarget Target) Apply(DetectionImage image, DetectionTarget target, Random rng)
    {
        foreach (var step in Steps)
        {
            (image, target) = step.Apply(image, target, rng);
        }
        return (image, target);
    }
}

/// <summary>ViDT's <c>make_coco_transforms</c> (geometry; <see cref="DetectionExample.Create"/> does ToTensor and
/// Normalize).</summary>
public static class VidtTransforms
{
    /// <summary>ViDT's training scales 480, 496, ..., 800.</summary>
    public static IReadOnlyList<int> DefaultScales { get; } = Enumerable.Range(0, 21).Select(i => 480 + (16 * i)).ToArray();

    /// <summary>Train pipeline: flip, then either multi-scale resize or resize [400, 500, 600] → random size crop
    /// (384, 600) → multi-scale resize; max side <c>scales[-1] * 1333 / 800</c>.</summary>
    /// <param name="scales">Shortest-side choices (ViDT's 480..800 by default); smaller scales fit small images.</param>
    /// <param name="cropResize">The pre-crop resize choices (ViDT: 400, 500, 600).</param>
    /// <param name="cropMin">Smallest crop side (ViDT: 384).</param>
    /// <param name="cropMax">Largest crop side (ViDT: 600).</param>
    public static IDetectionTransform Train(IReadOnlyList<int>? scales = null, IReadOnlyList<int>? cropResize = null,
        int cropMin = 384, int cropMax = 600)
    {
        scales ??= DefaultScales;
        var maxSize = scales[^1] * 1333 / 800;
        return new ComposeTransforms(
        [
            new RandomHorizontalFlip(),
            new RandomSelect(
                new RandomResize(scales, maxSize),
                new ComposeTransforms(
                [
                    new RandomResize(cropResize ?? [400, 500, 600]),
                    new RandomSizeCrop(cropMin, cropMax),
                    new RandomResize(scales, maxSize),
                ])),
        ]);
    }

    /// <summary>
    /// <see cref="Train"/> with ViDT's numbers scaled from its 800 px to <paramref name="size"/>: shortest sides from
    /// 0.6·size (rounded to a multiple of 16) to size in steps of 16, the pre-crop resize at 0.5, 0.625 and 0.75·size,
    /// crop sides 0.48·size to 0.75·size. At 800 these are ViDT's (480..800, [400, 500, 600], 384..600); at 128 they are
    /// 80..128, [64, 80, 96], 61..96, for small generated sets.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is below 32 px.</exception>
    public static IDetectionTransform TrainAtSize(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 32);
        return Train(ScalesAtSize(size), [Scaled(size, 0.5), Scaled(size, 0.625), Scaled(size, 0.75)], Scaled(size, 0.48), Scaled(size, 0.75));
    }

    /// <summary>The shortest-side choices of <see cref="TrainAtSize"/>.</summary>
    public static IReadOnlyList<int> ScalesAtSize(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 32);
        var scales = new List<int>();
        for (var s = Math.Max(16, (int)Math.Round(0.6 * size / 16, MidpointRounding.AwayFromZero) * 16); s <= size; s += 16)
        {
            scales.Add(s);
        }
        if (scales.Count == 0 || scales[^1] != size)
        {
            scales.Add(size);
        }
        return scales;
    }

    private static int Scaled(int size, double fraction) => (int)Math.Round(size * fraction, MidpointRounding.AwayFromZero);

    /// <summary>Val pipeline: shortest side <paramref name="evalSize"/> (ViDT: 800), max side evalSize * 1333 / 800.</summary>
    public static IDetectionTransform Val(int evalSize = 800) => new RandomResize([evalSize], evalSize * 1333 / 800);
}
