using System.Globalization;
using System.Text;
using System.Text.Json;
using VkD.Detection.Evaluation;

namespace VkD.Tests.Detection;

/// <summary>Compares the evaluator bit for bit with a pure-Python re-statement of pycocotools' COCOeval
/// (tools/fixtures/make_detection_fixtures.py, run with Debian's numpy) on random cases and on the labelme examples.</summary>
public sealed class CocoEvalCrossCheckTests
{
    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "detection", name);

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (var s = 0; s < 52; s++)
        {
            data.Add(s);
        }
        return data;
    }

    private static readonly Lazy<JsonElement> Cases = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(FixturePath("coco_crosscheck.json"))).RootElement.GetProperty("cases"));

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_case_gives_the_same_twelve_numbers_and_lines_as_cocoeval(int seed)
    {
        var c = Cases.Value[seed];
        Assert.Equal(seed, c.GetProperty("seed").GetInt32());
        var gt = CocoDataset.Load(new MemoryStream(Encoding.UTF8.GetBytes(c.GetProperty("gt").GetRawText())), $"case {seed} gt");
        var dt = CocoResultsFile.Load(new MemoryStream(Encoding.UTF8.GetBytes(c.GetProperty("results").GetRawText())), $"case {seed} results");

        var result = CocoEvaluator.Evaluate(gt, dt);

        var expected = c.GetProperty("stats").EnumerateArray().Select(v => double.Parse(v.GetString()!, CultureInfo.InvariantCulture)).ToArray();
        var lines = c.GetProperty("lines").EnumerateArray().Select(v => v.GetString()!).ToArray();
        Assert.Equal(expected, result.Stats);
        Assert.Equal(lines, result.Summary.Select(s => s.Line).ToArray());
    }

    [Fact]
    public void Labelme_examples_with_constructed_detections_match_cocoeval()
    {
        var gt = CocoDataset.Load(FixturePath("labelme_annotations.json"));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(FixturePath("labelme_expected.json")));
        var results = CocoResultsFile.Load(new MemoryStream(Encoding.UTF8.GetBytes(doc.RootElement.GetProperty("results").GetRawText())), "labelme results");

        var result = CocoEvaluator.Evaluate(gt, results);

        Assert.Equal(Parse(doc.RootElement.GetProperty("stats")), result.Stats);
        Assert.Equal(doc.RootElement.GetProperty("lines").EnumerateArray().Select(v => v.GetString()!).ToArray(),
            result.Summary.Select(s => s.Line).ToArray());
    }

    [Fact]
    public void Labelme_perfect_detections_reproduce_the_annotation_id_zero_quirk()
    {
        var gt = CocoDataset.Load(FixturePath("labelme_annotations.json"));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(FixturePath("labelme_expected.json")));
        var perfect = gt.Annotations.Select(a => new CocoDetection(a.ImageId, a.CategoryId, a.Bbox, 0.5)).ToList();

        var stats = CocoEvaluator.Evaluate(gt, perfect).Stats;

        // Annotation 0 (a person) is matched but pycocotools reads the stored id 0 as "no match": AP is not 1.
        Assert.Equal(Parse(doc.RootElement.GetProperty("perfect_stats")), stats);
        Assert.True(stats[0] < 1.0);
    }

    [Fact]
    public void Labelme_file_is_read_with_raw_category_ids_and_file_order()
    {
        var gt = CocoDataset.Load(FixturePath("labelme_annotations.json"));
        Assert.Equal(3, gt.Images.Count);
        Assert.Equal(12, gt.Annotations.Count);
        Assert.Equal(21, gt.Categories.Count);
        Assert.Equal(0, gt.Categories[0].Id);
        Assert.Equal("tv/monitor", gt.Categories[20].Name);
        var first = gt.Annotations[0];
        Assert.Equal((0L, 0L, 15L, 15689.0), (first.Id, first.ImageId, first.CategoryId, first.Area));
        Assert.Equal(new BoxXywh(191, 107, 123, 221), first.Bbox);
        Assert.Equal(500, gt.GetImage(0).Width);
    }

    private static double[] Parse(JsonElement array) =>
        array.EnumerateArray().Select(v => double.Parse(v.GetString()!, CultureInfo.InvariantCulture)).ToArray();
}
