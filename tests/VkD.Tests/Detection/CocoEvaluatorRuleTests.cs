using VkD.Detection.Evaluation;

namespace VkD.Tests.Detection;

/// <summary>Hand-computed cases, one per COCOeval rule. Stats order: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100,
/// ARs, ARm, ARl.</summary>
public sealed class CocoEvaluatorRuleTests
{
    private static CocoDataset Gt(params CocoAnnotation[] annotations)
    {
        var images = annotations.Select(a => a.ImageId).Append(1).Distinct()
            .Select(id => new CocoImage(id, $"{id}.jpg", 640, 480)).ToList();
        return new CocoDataset(images, annotations, [new CocoCategory(1, "a", null), new CocoCategory(2, "b", null)]);
    }

    private static CocoAnnotation Ann(long id, long image, BoxXywh box, double? area = null, bool crowd = false, long cat = 1) =>
        new(id, image, cat, box, area ?? box.Width * box.Height, crowd);

    /// <summary>Precision is tp / (tp + fp + eps) as in pycocotools, so a perfect AP is 1 - 2.2e-16, not 1.</summary>
    private static void AssertStats(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 12);
        }
    }

    private static CocoDetection Det(long image, BoxXywh box, double score, long cat = 1) => new(image, cat, box, score);

    [Fact]
    public void Single_perfect_detection_scores_one_and_empty_area_ranges_minus_one()
    {
        var gt = Gt(Ann(1, 1, new(10, 10, 20, 20)));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(10, 10, 20, 20), 0.9)]).Stats;
        AssertStats([1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1], stats);
    }

    [Fact]
    public void Crowd_region_absorbs_detections_by_detection_area_and_is_never_a_miss()
    {
        var regular = Ann(1, 1, new(0, 0, 10, 10));
        var crowd = Ann(2, 1, new(100, 100, 200, 200), crowd: true);
        var dets = new[]
        {
            Det(1, new(0, 0, 10, 10), 0.9),
            // Inside the crowd box: IoU over the detection's own area is 1 (plain IoU would be 0.0025).
            Det(1, new(150, 150, 10, 10), 0.8),
            Det(1, new(200, 200, 10, 10), 0.7),
        };
        var withCrowd = CocoEvaluator.Evaluate(Gt(regular, crowd), dets).Stats;
        Assert.Equal(1.0, withCrowd[0], 12);
        Assert.Equal(1.0, withCrowd[8], 12);

        // Same boxes with the crowd flag off: two false positives after the TP and a missed object.
        var notCrowd = CocoEvaluator.Evaluate(Gt(regular, crowd with { IsCrowd = false }), dets).Stats;
        // tp=[1,1,1], fp=[0,1,2], rc=[.5,.5,.5]: precision 1 up to recall .5 (51 of 101 points), 0 after.
        Assert.Equal(51.0 / 101, notCrowd[1], 15);
        Assert.Equal(0.5, notCrowd[8], 12);
    }

    [Fact]
    public void Crowd_only_category_has_no_ground_truth_to_find()
    {
        var gt = Gt(Ann(1, 1, new(0, 0, 50, 50), crowd: true));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 50, 50), 0.9)]).Stats;
        Assert.All(stats, s => Assert.Equal(-1, s));
    }

    [Fact]
    public void Area_ranges_use_the_annotation_area_field_not_the_box()
    {
        // A 50x50 box (2500 px², medium) whose mask area is 500 (small).
        var gt = Gt(Ann(1, 1, new(0, 0, 50, 50), area: 500));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 50, 50), 0.9)]).Stats;
        Assert.Equal(1, stats[3], 12);
        Assert.Equal(-1, stats[4], 12);
        Assert.Equal(1, stats[9], 12);
        Assert.Equal(-1, stats[10], 12);
    }

    [Fact]
    public void Area_range_bounds_are_inclusive_on_both_sides()
    {
        var gt = Gt(Ann(1, 1, new(0, 0, 32, 32)));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 32, 32), 0.9)]).Stats;
        Assert.Equal(1, stats[3], 12);
        Assert.Equal(1, stats[4], 12);
        Assert.Equal(-1, stats[5], 12);
    }

    [Fact]
    public void Unmatched_detection_outside_the_area_range_is_ignored_there()
    {
        // Small gt found; a large false positive with a higher score hurts "all" but not "small".
        var gt = Gt(Ann(1, 1, new(0, 0, 10, 10)));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(200, 200, 200, 200), 0.95), Det(1, new(0, 0, 10, 10), 0.9)]).Stats;
        Assert.Equal(0.5, stats[0], 12);
        Assert.Equal(1.0, stats[3], 12);
    }

    [Fact]
    public void MaxDets_cuts_by_score_per_image()
    {
        // Higher-scored false positive, then the true positive.
        var gt = Gt(Ann(1, 1, new(0, 0, 40, 40)));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(300, 300, 40, 40), 0.9), Det(1, new(0, 0, 40, 40), 0.8)]).Stats;
        // rc=[0,1], pr=[0,.5] -> envelope .5 at every recall point.
        Assert.Equal(0.5, stats[0], 12);
        Assert.Equal(0.0, stats[6], 12); // AR1: only the false positive is kept
        Assert.Equal(1.0, stats[7], 12); // AR10
    }

    [Fact]
    public void More_than_one_hundred_detections_are_cut_before_matching()
    {
        var gt = Gt(Ann(1, 1, new(0, 0, 40, 40)));
        var dets = Enumerable.Range(0, 100).Select(i => Det(1, new(400 + (i % 10), 300 + (i / 10), 5, 5), 0.9)).ToList();
        dets.Add(Det(1, new(0, 0, 40, 40), 0.5)); // the 101st by score is dropped
        var stats = CocoEvaluator.Evaluate(gt, dets).Stats;
        Assert.Equal(0.0, stats[8], 12);
        Assert.Equal(0.0, stats[0], 12);
    }

    [Fact]
    public void Score_ties_across_images_keep_image_id_order()
    {
        // Each image has one gt; image A's detection hits, image B's misses, both with score 0.5.
        CocoEvalResult Run(long hitImage, long missImage) => CocoEvaluator.Evaluate(
            Gt(Ann(1, hitImage, new(0, 0, 40, 40)), Ann(2, missImage, new(0, 0, 40, 40))),
            [Det(missImage, new(200, 200, 40, 40), 0.5), Det(hitImage, new(0, 0, 40, 40), 0.5)]);
        // Hit first: pr=[1,.5], rc=[.5,.5] -> 1 on 51 recall points. Miss first: pr=[0,.5] -> .5 on 51 points.
        Assert.Equal(51.0 / 101, Run(hitImage: 1, missImage: 2).Stats[0], 15);
        Assert.Equal(0.5 * 51 / 101, Run(hitImage: 3, missImage: 2).Stats[0], 15);
    }

    [Fact]
    public void Score_ties_within_an_image_keep_results_order()
    {
        // Two detections with equal scores on one gt: the first in the results file takes the match.
        var gt = Gt(Ann(1, 1, new(0, 0, 40, 40)), Ann(2, 1, new(100, 0, 40, 40)));
        var hitFirst = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 40, 40), 0.5), Det(1, new(300, 300, 40, 40), 0.5)]);
        var missFirst = CocoEvaluator.Evaluate(gt, [Det(1, new(300, 300, 40, 40), 0.5), Det(1, new(0, 0, 40, 40), 0.5)]);
        Assert.Equal(51.0 / 101, hitFirst.Stats[0], 15);
        Assert.Equal(0.5 * 51 / 101, missFirst.Stats[0], 15);
        Assert.Equal(0.5, hitFirst.Stats[6], 12); // AR1 keeps the first of the tie
        Assert.Equal(0.0, missFirst.Stats[6], 12);
    }

    [Fact]
    public void Greedy_matching_gives_the_higher_scored_detection_the_best_gt()
    {
        var gt = Gt(Ann(1, 1, new(0, 0, 100, 100)), Ann(2, 1, new(0, 0, 60, 100)));
        // d1 overlaps gt1 (IoU 1) and gt2 (0.6); d2 overlaps gt2 (IoU 1) and gt1 (0.6).
        var result = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 100, 100), 0.9), Det(1, new(0, 0, 60, 100), 0.8)]);
        Assert.Equal(1.0, result.Stats[0], 12);
    }

    [Fact]
    public void Category_without_ground_truth_is_left_out_of_the_mean()
    {
        var gt = Gt(Ann(1, 1, new(0, 0, 40, 40)));
        var result = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 40, 40), 0.9), Det(1, new(0, 0, 40, 40), 0.95, cat: 2)]);
        Assert.Equal(1.0, result.Stats[0], 12);
        Assert.Equal(-1, result.Precision(0, 0, k: 1, a: 0, m: 2), 12);
        Assert.Equal(-1, result.CategoryAp(2), 12);
        Assert.Equal(1.0, result.CategoryAp(1), 12);
    }

    [Fact]
    public void Image_without_detections_counts_its_objects_as_missed()
    {
        var gt = Gt(Ann(1, 1, new(0, 0, 40, 40)), Ann(2, 2, new(0, 0, 40, 40)));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 40, 40), 0.9)]).Stats;
        Assert.Equal(0.5, stats[8], 12);
        Assert.Equal(51.0 / 101, stats[0], 15);
    }

    [Fact]
    public void No_detections_at_all_give_zero_not_minus_one()
    {
        var stats = CocoEvaluator.Evaluate(Gt(Ann(1, 1, new(0, 0, 40, 40))), []).Stats;
        AssertStats([0, 0, 0, -1, 0, -1, 0, 0, 0, -1, 0, -1], stats);
    }

    [Fact]
    public void Iou_threshold_is_inclusive()
    {
        // IoU exactly 0.5: 50x100 detection inside a 100x100 gt.
        var gt = Gt(Ann(1, 1, new(0, 0, 100, 100)));
        var stats = CocoEvaluator.Evaluate(gt, [Det(1, new(0, 0, 50, 100), 0.9)]).Stats;
        Assert.Equal(1.0, stats[1], 12);
        Assert.Equal(0.0, stats[2], 12);
        Assert.Equal(0.1, stats[0], 15);
    }

    [Fact]
    public void Match_to_annotation_id_zero_reads_as_unmatched_like_pycocotools()
    {
        var gt0 = Gt(Ann(0, 1, new(0, 0, 40, 40)));
        var gt1 = Gt(Ann(1, 1, new(0, 0, 40, 40)));
        Assert.Equal(0.0, CocoEvaluator.Evaluate(gt0, [Det(1, new(0, 0, 40, 40), 0.9)]).Stats[0], 12);
        Assert.Equal(1.0, CocoEvaluator.Evaluate(gt1, [Det(1, new(0, 0, 40, 40), 0.9)]).Stats[0], 12);
    }

    [Fact]
    public void Result_for_an_unknown_image_is_an_error()
    {
        var gt = Gt(Ann(1, 1, new(0, 0, 40, 40)));
        var e = Assert.Throws<ArgumentException>(() => CocoEvaluator.Evaluate(gt, [Det(99, new(0, 0, 40, 40), 0.9)]));
        Assert.Contains("Results do not correspond to current coco set", e.Message);
        Assert.Contains("99", e.Message);
    }

    [Fact]
    public void Shuffled_results_with_distinct_scores_give_the_same_numbers()
    {
        var rng = new Random(5);
        var anns = new List<CocoAnnotation>();
        var dets = new List<CocoDetection>();
        for (var i = 0; i < 40; i++)
        {
            var box = new BoxXywh(rng.Next(0, 400), rng.Next(0, 300), rng.Next(5, 200), rng.Next(5, 150));
            var image = 1 + (i % 7);
            var cat = 1 + (i % 2);
            anns.Add(Ann(i + 1, image, box, cat: cat));
            dets.Add(Det(image, box with { X = box.X + rng.Next(-8, 9) }, rng.NextDouble(), cat));
            dets.Add(Det(image, new(rng.Next(0, 400), rng.Next(0, 300), 40, 40), rng.NextDouble(), cat));
        }
        var gt = Gt([.. anns]);
        var reference = CocoEvaluator.Evaluate(gt, dets).Stats;
        var shuffled = dets.OrderBy(_ => rng.Next()).ToList();
        Assert.Equal(reference, CocoEvaluator.Evaluate(gt, shuffled).Stats);
        Assert.Equal(reference, CocoEvaluator.Evaluate(gt, dets, new CocoEvalParameters { MaxDegreeOfParallelism = 1 }).Stats);
        Assert.InRange(reference[0], 0.05, 0.95);
    }

    [Fact]
    public void Summary_lines_follow_the_pycocotools_layout()
    {
        var result = CocoEvaluator.Evaluate(Gt(Ann(1, 1, new(10, 10, 20, 20))), [Det(1, new(10, 10, 20, 20), 0.9)]);
        var lines = result.FormatSummary().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(12, lines.Length);
        Assert.Equal(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000", lines[0]);
        Assert.Equal(" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 1.000", lines[1]);
        Assert.Equal(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000", lines[4]);
        Assert.Equal(" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 1.000", lines[6]);
        Assert.Equal(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000", lines[11]);
    }

    [Fact]
    public void Results_file_round_trips()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vkd-det-{Guid.NewGuid():N}.json");
        try
        {
            var dets = new List<CocoDetection> { Det(1, new(1.5, 2.25, 3, 4.125), 0.1), Det(2, new(0, 0, 1, 1), 1.0 / 3, cat: 2) };
            CocoResultsFile.Save(path, dets);
            Assert.Equal(dets, CocoResultsFile.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Malformed_results_name_the_entry_and_key()
    {
        var json = """[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}, {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}]""";
        var e = Assert.Throws<InvalidDataException>(() => CocoResultsFile.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)), "dt.json"));
        Assert.Contains("dt.json: result [1]", e.Message);
        Assert.Contains("bbox", e.Message);
    }
}

public sealed class VidtPostProcessTests
{
    [Fact]
    public void Post_process_matches_vidt_in_torch()
    {
        using var f = VkD.Tests.Infrastructure.Fixture.Load("detection", "postprocess");
        var dets = VidtPostProcess.ToCocoDetections(f["logits"], f["boxes"], [(375, 500), (480, 640)], [11, 42], topK: 20);
        Assert.Equal(40, dets.Count);
        var scores = f["scores"].data<float>().ToArray();
        var labels = f["labels"].data<long>().ToArray();
        var xywh = f["xywh"].data<float>().ToArray();
        for (var n = 0; n < 40; n++)
        {
            Assert.Equal(n < 20 ? 11 : 42, dets[n].ImageId);
            Assert.Equal(labels[n], dets[n].CategoryId);
            Assert.Equal((double)scores[n], dets[n].Score);
            Assert.Equal(new BoxXywh(xywh[n * 4], xywh[(n * 4) + 1], xywh[(n * 4) + 2], xywh[(n * 4) + 3]), dets[n].Bbox);
        }
    }
}
