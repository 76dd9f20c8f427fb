using VkD.Detection.Training;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Training.DetectionTrainingFixtures;

namespace VkD.Tests.Detection.Training;

/// <summary>ViDT's matcher against the PyTorch + scipy restatement (fixtures matcher*.pt).</summary>
public sealed class HungarianMatcherTests(ITestOutputHelper output)
{
    /// <summary>Per-image targets from a fixture's packed tgt_counts / tgt_labels / tgt_boxes.</summary>
    internal static List<BoxTargets> Targets(Fixture f, string prefix = "tgt_")
    {
        var counts = f[prefix + "counts"].data<long>().ToArray();
        var list = new List<BoxTargets>();
        long at = 0;
        foreach (var n in counts)
        {
            list.Add(new BoxTargets(f[prefix + "labels"][TensorIndex.Slice(at, at + n)],
                f[prefix + "boxes"][TensorIndex.Slice(at, at + n)]));
            at += n;
        }
        return list;
    }

    [Theory]
    [InlineData("matcher")]
    [InlineData("matcher_few_queries")]
    public void Costs_and_indices_match_vidt(string name)
    {
        using var f = Fixture.Load(Part, name);
        using var scope = NewDisposeScope();
        var matcher = new HungarianMatcher();
        var targets = Targets(f);
        var matches = matcher.Match(f["logits"], f["boxes"], targets);
        Assert.Equal(targets.Count, matches.Count);
        var worst = 0.0;
        for (var b = 0; b < targets.Count; b++)
        {
            if (targets[b].Count > 0)
            {
                var cost = matcher.Cost(f["logits"][b], f["boxes"][b], targets[b]);
                worst = Math.Max(worst, AssertClose(f[$"cost_{b}"], cost, 1e-5, $"cost of image {b}"));
            }
            Assert.Equal(f[$"pred_{b}"].data<long>().ToArray(), matches[b].Predictions);
            Assert.Equal(f[$"tgt_{b}"].data<long>().ToArray(), matches[b].Targets);
            Assert.Equal(Math.Min(f["logits"].shape[1], targets[b].Count), matches[b].Count);
        }
        output.WriteLine($"{name}: cost max abs diff {worst:g3}");
    }

    [Fact]
    public void Bad_inputs_name_the_problem()
    {
        using var scope = NewDisposeScope();
        var matcher = new HungarianMatcher();
        var logits = zeros(2, 4, 5);
        var boxes = full(2, 4, 4, 0.3f);
        var target = new BoxTargets(tensor(new long[] { 7 }), tensor(new[] { 0.5f, 0.5f, 0.2f, 0.2f }, [1, 4]));
        var e = Assert.Throws<ArgumentException>(() => matcher.Match(logits, boxes, [target, target]));
        Assert.Contains("[0, 5)", e.Message);
        Assert.Contains("image 0", e.Message);
        Assert.Throws<ArgumentException>(() => matcher.Match(logits, boxes, [target]));
        var nanLogits = full(1, 4, 8, float.NaN);
        var nan = Assert.Throws<ArgumentException>(() => matcher.Match(nanLogits, boxes[..1], [target]));
        Assert.Contains("not a number", nan.Message);
        Assert.Throws<ArgumentException>(() => new HungarianMatcher(0, 0, 0));
        Assert.Throws<ArgumentException>(() => new BoxTargets(tensor(new long[] { 1, 2 }), zeros(3, 4)));
    }
}
