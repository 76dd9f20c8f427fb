using System.Text.Json;
using System.Text.Json.Serialization;

namespace VkD.Detection.Evaluation;

/// <summary>One detection in COCO's results format: <c>{"image_id", "category_id", "bbox": [x, y, w, h], "score"}</c>.</summary>
/// <param name="ImageId">Image the detection belongs to; must be an image of the ground truth.</param>
/// <param name="CategoryId">Predicted category id (raw COCO id).</param>
/// <param name="Bbox">Box in pixels of the original image, [x, y, width, height].</param>
/// <param name="Score">Confidence; higher ranks first.</param>
public sealed record CocoDetection(long ImageId, long CategoryId, BoxXywh Bbox, double Score);

/// <summary>Reads and writes COCO results JSON files (a list of <see cref="CocoDetection"/> objects).</summary>
public static class CocoResultsFile
{
    /// <summary>Reads a results file.</summary>
    /// <exception cref="InvalidDataException">The file is not a list of bbox results; the message names the entry and key.</exception>
    public static IReadOnlyList<CocoDetection> Load(string path)
    {
        using var stream = File.OpenRead(path);
        return Load(stream, path);
    }

    /// <summary>Reads a results document from a stream; <paramref name="source"/> names it in errors.</summary>
    public static IReadOnlyList<CocoDetection> Load(Stream stream, string source)
    {
        List<ResultDto>? dtos;
        try
        {
            dtos = JsonSerializer.Deserialize<List<ResultDto>>(stream, CocoDataset.JsonOptions);
        }
        catch (JsonException e) when (e.Path is { Length: > 1 } path && path.Contains('.'))
        {
            throw new InvalidDataException($"{source}: {path}: {e.Message}", e);
        }
        catch (JsonException e)
        {
            // pycocotools asserts the same: 'results in not an array of objects'.
            throw new InvalidDataException($"{source}: results must be a JSON array of detection objects ({e.Message}).", e);
        }
        if (dtos is null)
        {
            throw new InvalidDataException($"{source}: results must be a JSON array of detection objects.");
        }
        var results = new List<CocoDetection>(dtos.Count);
        for (var n = 0; n < dtos.Count; n++)
        {
            var d = dtos[n];
            var where = $"{source}: result [{n}]";
            if (d.Bbox is not { Length: 4 } b)
            {
                throw new InvalidDataException($"{where} has no 4-element 'bbox' (only bbox results are supported).");
            }
            results.Add(new CocoDetection(
                d.ImageId ?? throw new InvalidDataException($"{where} has no 'image_id'."),
                d.CategoryId ?? throw new InvalidDataException($"{where} has no 'category_id'."),
                new BoxXywh(b[0], b[1], b[2], b[3]),
                d.Score ?? throw new InvalidDataException($"{where} has no 'score'.")));
        }
        return results;
    }

    /// <summary>Writes detections as a COCO results JSON file (doubles in shortest round-trip form, like Python's json).</summary>
    public static void Save(string path, IEnumerable<CocoDetection> detections)
    {
        var dtos = detections.Select(d => new ResultDto
        {
            ImageId = d.ImageId,
            CategoryId = d.CategoryId,
            Bbox = [d.Bbox.X, d.Bbox.Y, d.Bbox.Width, d.Bbox.Height],
            Score = d.Score,
        }).ToList();
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, dtos, CocoDataset.JsonOptions);
    }

    private sealed class ResultDto
    {
        [JsonPropertyName("image_id")] public long? ImageId { get; set; }
        [JsonPropertyName("category_id")] public long? CategoryId { get; set; }
        [JsonPropertyName("bbox")] public double[]? Bbox { get; set; }
        [JsonPropertyName("score")] public double? Score { get; set; }
    }
}
