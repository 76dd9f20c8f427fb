using VkD.Detection.Evaluation;

namespace VkD.Tests.Detection;

/// <summary>Where pycocotools' behaviour is reached only through the C# API or hand-written JSON: the summary's
/// maxDets rule, non-finite boxes and how JSON numbers are read.</summary>
public sealed class CocoInputRuleTests
{
    private static CocoDataset Gt(params CocoAnnotation[] annotations) =>
        new([new CocoImage(1, "1.jpg", 640, 480)], annotations, [new CocoCategory(1, "a", null)]);

    private static CocoAnnotation Ann(long id, long image, BoxXywh box, double? area = null) =>
        new(id, image, 1, box, area ?? box.Width * box.Height, false);

    private static CocoDetection Det(long image, BoxXywh box, double score) => new(image, 1, box, score);

    [Fact]
    public void First_summary_line_is_at_maxDets_100_as_in_pycocotools()
    {
        var gt = Gt(Ann(1, 1, new(10, 10, 20, 20)));
        var dets = new[] { Det(1, new(10, 10, 20, 20), 0.9) };
        var custom = CocoEvaluator.Evaluate(gt, dets, new CocoEvalParameters { MaxDetections = [1, 10, 300] });
        // 100 is not a setting: pycocotools' stats[0] is -1 there, the others use maxDets[2] = 300.
        Assert.Equal(-1, custom.Stats[0]);
        Assert.Contains("maxDets=100", custom.Summary[0].Line);
        Assert.Equal(1, custom.Stats[1], 12);
        Assert.Contains("maxDets=300", custom.Summary[1].Line);

        // Four settings: pycocotools reads maxDets[2] (100), not the last one.
        var four = CocoEvaluator.Evaluate(gt, dets, new CocoEvalParameters { MaxDetections = [1, 10, 100, 300] });
        Assert.Equal(1, four.Stats[0], 12);
        Assert.Contains("maxDets=100", four.Summary[8].Line);
    }

    [Theory]
    [InlineData(double.NaN, 0)]
    [InlineData(0, double.PositiveInfinity)]
    public void Non_finite_detection_or_ground_truth_boxes_are_refused(double x, double w)
    {
        var gt = Gt(Ann(1, 1, new(10, 10, 20, 20)));
        var e = Assert.Throws<ArgumentException>(() => CocoEvaluator.Evaluate(gt, [Det(1, new(x, 10, 20 + w, 20), 0.9)]));
        Assert.Contains("Result [0]", e.Message);
        Assert.Contains("non-finite bbox", e.Message);
        var badGt = Gt(Ann(7, 1, new(x, 10, 20 + w, 20), area: 400));
        var g = Assert.Throws<ArgumentException>(() => CocoEvaluator.Evaluate(badGt, [Det(1, new(10, 10, 20, 20), 0.9)]));
        Assert.Contains("annotations[0] (id 7)", g.Message);
    }

    [Fact]
    public void Json_numbers_are_read_as_python_reads_them()
    {
        // Converters write ids and iscrowd as 1.0 or true; Python's json (and so pycocotools) accepts those.
        const string gtJson = """
            {"images": [{"id": 1.0, "file_name": "a.jpg", "width": 640.0, "height": 480}],
             "annotations": [{"id": true, "image_id": 1.0, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": false}],
             "categories": [{"id": 1.0, "name": "a"}]}
            """;
        var gt = CocoDataset.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(gtJson)), "gt.json");
        Assert.Equal(1, gt.Annotations[0].Id);
        Assert.False(gt.Annotations[0].IsCrowd);
        Assert.Equal(640, gt.Images[0].Width);
        var dets = CocoResultsFile.Load(new MemoryStream("""[{"image_id": 1.0, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}]"""u8.ToArray()), "res.json");
        Assert.Equal(1, CocoEvaluator.Evaluate(gt, dets).Stats[0], 12);

        // A string where a number belongs is refused (pycocotools fails on it too), naming the file and the key.
        var e = Assert.Throws<InvalidDataException>(() => CocoResultsFile.Load(
            new MemoryStream("""[{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": "0.9"}]"""u8.ToArray()), "res.json"));
        Assert.Contains("res.json", e.Message);
        Assert.Contains("score", e.Message);
        var f = Assert.Throws<InvalidDataException>(() => CocoDataset.Load(
            new MemoryStream(System.Text.Encoding.UTF8.GetBytes(gtJson.Replace("\"id\": true", "\"id\": 1.5"))), "gt.json"));
        Assert.Contains("gt.json", f.Message);
    }
}
