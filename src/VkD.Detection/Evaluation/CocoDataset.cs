using System.Text.Json;
using System.Text.Json.Serialization;

namespace VkD.Detection.Evaluation;

/// <summary>One entry of a COCO file's <c>images</c> list.</summary>
/// <param name="Id">Image id (the key annotations and results refer to).</param>
/// <param name="FileName">Path of the image relative to the image folder.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
public sealed record CocoImage(long Id, string FileName, int Width, int Height);

/// <summary>One entry of a COCO file's <c>categories</c> list.</summary>
/// <param name="Id">Category id, kept as in the file (COCO's ids run 1..90 with gaps; ViDT uses them raw).</param>
/// <param name="Name">Category name.</param>
/// <param name="Supercategory">Super-category name, if any.</param>
public sealed record CocoCategory(long Id, string Name, string? Supercategory);

/// <summary>One ground-truth object of a COCO instances file (bbox only; segmentations are not read).</summary>
/// <param name="Id">Annotation id.</param>
/// <param name="ImageId">Image the object belongs to.</param>
/// <param name="CategoryId">Category id as in the file.</param>
/// <param name="Bbox">Box as COCO's [x, y, width, height] in pixels.</param>
/// <param name="Area">The annotation's <c>area</c> field (the segmentation area for COCO, not the box area); COCOeval
/// assigns objects to the small/medium/large ranges by this value.</param>
/// <param name="IsCrowd">COCO's <c>iscrowd</c> flag: a crowd region may absorb any number of detections and is never
/// counted as a miss.</param>
public sealed record CocoAnnotation(long Id, long ImageId, long CategoryId, BoxXywh Bbox, double Area, bool IsCrowd);

/// <summary>An axis-aligned box in COCO's [x, y, width, height] convention (pixels, doubles like pycocotools).</summary>
/// <param name="X">Left edge.</param>
/// <param name="Y">Top edge.</param>
/// <param name="Width">Width.</param>
/// <param name="Height">Height.</param>
public readonly record struct BoxXywh(double X, double Y, double Width, double Height)
{
    /// <summary>Builds a box from corner coordinates [x1, y1, x2, y2].</summary>
    public static BoxXywh FromXyxy(double x1, double y1, double x2, double y2) => new(x1, y1, x2 - x1, y2 - y1);

    /// <summary>True when all four coordinates are finite (no NaN or infinity).</summary>
    public bool IsFinite => double.IsFinite(X) && double.IsFinite(Y) && double.IsFinite(Width) && double.IsFinite(Height);
}

/// <summary>
/// A COCO instances dataset (images, annotations, categories), the ground-truth side of <see cref="CocoEvaluator"/>
/// and the label source of the detection data pipeline. Lists keep the file's order, which COCOeval's
/// tie-breaking depends on.
/// </summary>
public sealed class CocoDataset
{
    private readonly Dictionary<long, CocoImage> _imagesById;

    /// <summary>Creates a dataset from its three lists; ids must be unique within each list.</summary>
    /// <exception cref="ArgumentException">An image, annotation or category id appears twice.</exception>
    public CocoDataset(IReadOnlyList<CocoImage> images, IReadOnlyList<CocoAnnotation> annotations,
        IReadOnlyList<CocoCategory> categories, string source = "<memory>")
    {
        Images = images;
        Annotations = annotations;
        Categories = categories;
        Source = source;
        _imagesById = new Dictionary<long, CocoImage>(images.Count);
        foreach (var image in images)
        {
            if (!_imagesById.TryAdd(image.Id, image))
            {
                throw new ArgumentException($"{source}: image id {image.Id} appears twice in 'images'.");
            }
        }
        var annotationIds = new HashSet<long>();
        foreach (var annotation in annotations)
        {
            if (!annotationIds.Add(annotation.Id))
            {
                throw new ArgumentException($"{source}: annotation id {annotation.Id} appears twice in 'annotations'.");
            }
        }
        var categoryIds = new HashSet<long>();
        foreach (var category in categories)
        {
            if (!categoryIds.Add(category.Id))
            {
                throw new ArgumentException($"{source}: category id {category.Id} appears twice in 'categories'.");
            }
        }
    }

    /// <summary>The <c>images</c> list in file order.</summary>
    public IReadOnlyList<CocoImage> Images { get; }

    /// <summary>The <c>annotations</c> list in file order.</summary>
    public IReadOnlyList<CocoAnnotation> Annotations { get; }

    /// <summary>The <c>categories</c> list in file order.</summary>
    public IReadOnlyList<CocoCategory> Categories { get; }

    /// <summary>Where the dataset came from (file path), used in error messages.</summary>
    public string Source { get; }

    /// <summary>Whether an image with this id is in <see cref="Images"/>.</summary>
    public bool ContainsImage(long imageId) => _imagesById.ContainsKey(imageId);

    /// <summary>The image with this id.</summary>
    /// <exception cref="KeyNotFoundException">No such image.</exception>
    public CocoImage GetImage(long imageId) => _imagesById.TryGetValue(imageId, out var image)
        ? image
        : throw new KeyNotFoundException($"{Source}: no image with id {imageId}.");

    /// <summary>Annotations grouped by image id, each group in file order.</summary>
    public Dictionary<long, List<CocoAnnotation>> AnnotationsByImage()
    {
        var byImage = new Dictionary<long, List<CocoAnnotation>>();
        foreach (var annotation in Annotations)
        {
            if (!byImage.TryGetValue(annotation.ImageId, out var list))
            {
                byImage[annotation.ImageId] = list = [];
            }
            list.Add(annotation);
        }
        return byImage;
    }

    /// <summary>Reads a COCO instances JSON file (segmentations and other fields are skipped).</summary>
    /// <exception cref="InvalidDataException">The file is not a COCO instances file; the message names the file and key.</exception>
    public static CocoDataset Load(string path)
    {
        using var stream = File.OpenRead(path);
        return Load(stream, path);
    }

    /// <summary>Reads a COCO instances JSON document from a stream; <paramref name="source"/> names it in errors.</summary>
    public static CocoDataset Load(Stream stream, string source)
    {
        CocoFileDto? dto;
        try
        {
            dto = JsonSerializer.Deserialize<CocoFileDto>(stream, JsonOptions);
        }
        catch (JsonException e)
        {
            var at = e.Path is { Length: > 1 } path ? $" at {path}" : "";
            throw new InvalidDataException($"{source}: not a valid COCO instances JSON{at} ({e.Message}).", e);
        }
        if (dto?.Images is null)
        {
            throw new InvalidDataException($"{source}: missing 'images' list.");
        }
        if (dto.Annotations is null)
        {
            throw new InvalidDataException($"{source}: missing 'annotations' list.");
        }
        if (dto.Categories is null)
        {
            throw new InvalidDataException($"{source}: missing 'categories' list.");
        }
        var images = new List<CocoImage>(dto.Images.Count);
        foreach (var i in dto.Images)
        {
            images.Add(new CocoImage(i.Id ?? throw Missing(source, "images", "id"), i.FileName ?? "", i.Width ?? 0, i.Height ?? 0));
        }
        var annotations = new List<CocoAnnotation>(dto.Annotations.Count);
        for (var n = 0; n < dto.Annotations.Count; n++)
        {
            var a = dto.Annotations[n];
            var where = $"annotations[{n}]";
            if (a.Bbox is not { Length: 4 } b)
            {
                throw new InvalidDataException($"{source}: {where} has no 4-element 'bbox'.");
            }
            annotations.Add(new CocoAnnotation(
                a.Id ?? throw Missing(source, where, "id"),
                a.ImageId ?? throw Missing(source, where, "image_id"),
                a.CategoryId ?? throw Missing(source, where, "category_id"),
                new BoxXywh(b[0], b[1], b[2], b[3]),
                a.Area ?? throw Missing(source, where, "area"),
                a.IsCrowd is { } crowd && crowd != 0));
        }
        var categories = dto.Categories
            .Select(c => new CocoCategory(c.Id ?? throw Missing(source, "categories", "id"), c.Name ?? "", c.Supercategory))
            .ToList();
        try
        {
            return new CocoDataset(images, annotations, categories, source);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>Writes the dataset as a COCO instances JSON file (bbox annotations, no segmentations).</summary>
    public void Save(string path)
    {
        var dto = new CocoFileDto
        {
            Images = Images.Select(i => new ImageDto { Id = i.Id, FileName = i.FileName, Width = i.Width, Height = i.Height }).ToList(),
            Annotations = Annotations.Select(a => new AnnotationDto
            {
                Id = a.Id,
                ImageId = a.ImageId,
                CategoryId = a.CategoryId,
                Bbox = [a.Bbox.X, a.Bbox.Y, a.Bbox.Width, a.Bbox.Height],
                Area = a.Area,
                IsCrowd = a.IsCrowd ? 1 : 0,
            }).ToList(),
            Categories = Categories.Select(c => new CategoryDto { Id = c.Id, Name = c.Name, Supercategory = c.Supercategory }).ToList(),
        };
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, dto, JsonOptions);
    }

    private static InvalidDataException Missing(string source, string where, string key) =>
        new($"{source}: {where} has no '{key}'.");

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        // Python's json module, and so pycocotools, reads 1.0 and true where an integer is expected (they hash equal to
        // 1) and refuses "0.9" where a number is expected: converters do the same instead of the serializer's defaults.
        Converters = { new PythonIntegerConverter(), new PythonInt32Converter(), new PythonNumberConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed class CocoFileDto
    {
        [JsonPropertyName("images")] public List<ImageDto>? Images { get; set; }
        [JsonPropertyName("annotations")] public List<AnnotationDto>? Annotations { get; set; }
        [JsonPropertyName("categories")] public List<CategoryDto>? Categories { get; set; }
    }

    private sealed class ImageDto
    {
        [JsonPropertyName("id")] public long? Id { get; set; }
        [JsonPropertyName("file_name")] public string? FileName { get; set; }
        [JsonPropertyName("width")] public int? Width { get; set; }
        [JsonPropertyName("height")] public int? Height { get; set; }
    }

    private sealed class AnnotationDto
    {
        [JsonPropertyName("id")] public long? Id { get; set; }
        [JsonPropertyName("image_id")] public long? ImageId { get; set; }
        [JsonPropertyName("category_id")] public long? CategoryId { get; set; }
        [JsonPropertyName("bbox")] public double[]? Bbox { get; set; }
        [JsonPropertyName("area")] public double? Area { get; set; }
        [JsonPropertyName("iscrowd")] public int? IsCrowd { get; set; }
    }

    private sealed class CategoryDto
    {
        [JsonPropertyName("id")] public long? Id { get; set; }
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("supercategory")] public string? Supercategory { get; set; }
    }
}
