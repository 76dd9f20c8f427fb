using VkD.Detection.Models;
using VkD.Detection.Synthesis;
using VkD.Models.Swin;

namespace VkD.Tests.Detection.Training;

/// <summary>Small generated train/ and val/ sets (three shape classes, ids 1..3) and a tiny ViDT for training tests.</summary>
internal static class DetectionTrainingTestData
{
    /// <summary>A ViDT small enough to train a few steps in a test: width-4 Swin-RAM, 4 [DET] tokens, 2 decoder layers
    /// of width 32, 4 classes (ids 0..3, so the generated ids 1..3 fit).</summary>
    public static VidtConfig Tiny(int embed = 4, bool boxRefine = true) => new(
        new SwinRamConfig(embed, [2, 1, 1, 2], [1, 2, 2, 4], WindowSize: 5, MlpRatio: 2.0, DetTokenNum: 4, PosDim: 32, NeckDim: 32),
        NumClasses: 4, HiddenDim: 32, NHeads: 4, DecLayers: 2, DimFeedforward: 64, DecNPoints: 2, WithBoxRefine: boxRefine);

    /// <summary>Writes <paramref name="root"/>/train and /val (make-detection's layout) and returns <paramref name="root"/>.</summary>
    public static string MakeSets(string root, int trainImages = 6, int valImages = 3, int side = 64)
    {
        foreach (var (split, count, seed) in new[] { ("train", trainImages, 1), ("val", valImages, 2) })
        {
            DetectionSceneGenerator.Generate(new VidtCommandTests.ShapeSource(),
                new DetectionSceneOptions { ImageCount = count, Width = side, Height = side, MinObjectSize = 14, MaxObjectSize = 28, MaxObjects = 3, Seed = seed },
                Path.Combine(root, split));
        }
        return root;
    }
}
