using VkD.Detection.Evaluation;

namespace VkD.Detection.Data;

/// <summary>
/// COCO detection data as ViDT reads it (torchvision <c>CocoDetection</c> + <c>ConvertCocoPolysToMask</c> + the
/// transforms): images in ascending id order, decoded from <see cref="ImageRoot"/>, crowds dropped, boxes clamped.
/// Each example's randomness comes from a generator seeded by (seed, index), so results do not depend on the order or
/// thread in which examples are loaded.
/// </summary>
public sealed class CocoDetectionDataset
{
    private readonly List<CocoImage> _images;
    private readonly Dictionary<long, List<CocoAnnotation>> _annotations;

    /// <summary>Creates the dataset.</summary>
    /// <param name="groundTruth">COCO instances (or VOC converted with <see cref="VocAnnotationReader"/>).</param>
    /// <param name="imageRoot">Folder the images' <c>file_name</c> paths are relative to.</param>
    /// <param name="transform">Geometric pipeline, e.g. <see cref="VidtTransforms.Train"/>; null for none.</param>
    public CocoDetectionDataset(CocoDataset groundTruth, string imageRoot, IDetectionTransform? transform)
    {
        GroundTruth = groundTruth;
        ImageRoot = imageRoot;
        Transform = transform;
        _images = groundTruth.Images.OrderBy(i => i.Id).ToList();
        _annotations = groundTruth.AnnotationsByImage();
    }

    /// <summary>The ground truth.</summary>
    public CocoDataset GroundTruth { get; }

    /// <summary>Image folder.</summary>
    public string ImageRoot { get; }

    /// <summary>The transform applied by <see cref="Get"/>.</summary>
    public IDetectionTransform? Transform { get; }

    /// <summary>Number of images.</summary>
    public int Count => _images.Count;

    /// <summary>Image record at a position (ascending id order).</summary>
    public CocoImage ImageAt(int index) => _images[index];

    /// <summary>The decoded image and its converted targets before any transform.</summary>
    /// <exception cref="FileNotFoundException">The image file is missing.</exception>
    public (DetectionImage Image, DetectionTarget Target) LoadRaw(int index)
    {
        var info = _images[index];
        var path = Path.Combine(ImageRoot, info.FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Image {info.Id} of {GroundTruth.Source}: file not found: {path}", path);
        }
        var image = DetectionImage.Load(path);
        var anns = _annotations.TryGetValue(info.Id, out var list) ? list : [];
        return (image, CocoTargetConverter.Convert(info.Id, anns, image.Width, image.Height));
    }

    /// <summary>The example at <paramref name="index"/>, transformed with randomness fixed by (seed, index).</summary>
    public DetectionExample Get(int index, long seed)
    {
        var (image, target) = LoadRaw(index);
        if (Transform is not null)
        {
            (image, target) = Transform.Apply(image, target, ExampleRandom(seed, index));
        }
        return DetectionExample.Create(image, target);
    }

    /// <summary>A padded batch of the examples at <paramref name="indices"/>.</summary>
    public DetectionBatch GetBatch(IReadOnlyList<int> indices, long seed)
    {
        var examples = new DetectionExample[indices.Count];
        Parallel.For(0, indices.Count, i => examples[i] = Get(indices[i], seed));
        return new DetectionBatch(examples);
    }

    /// <summary>The per-example random source: SplitMix64 of (seed, index), so it is stable across runs and
    /// platforms (unlike <see cref="HashCode"/>).</summary>
    public static Random ExampleRandom(long seed, long index)
    {
        var z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return new Random((int)(z & 0x7FFFFFFF));
    }
}
