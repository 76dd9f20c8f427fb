using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Tests.Data;
using VkD.Training.Sessions;

namespace VkD.Tests.Training;

/// <summary>Issue 18.14: evaluating a release checkpoint (plain weights, nothing recorded) on ImageNet-sized photos
/// used the first photo's size ("Image size 500 is not divisible by the conv stem's reduction 16").</summary>
[Collection(EndToEndCollection.Name)]
public sealed class EvaluationDefaultsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-eval-defaults-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Photos_are_evaluated_at_the_model_s_own_input_size_when_nothing_records_one()
    {
        foreach (var split in new[] { "train", "val" })
        {
            foreach (var cls in new[] { "cat", "dog" })
            {
                DataTestHelpers.WriteImage(Path.Combine(_dir, "photos", split, cls, "0.jpg"), DataTestHelpers.Pattern(500, 375, cls.Length), SkiaSharp.SKEncodedImageFormat.Jpeg);
            }
        }
        var weights = Path.Combine(_dir, "release.pth");
        using (var model = ModelRegistry.Create("deit_ti_distilled", new ModelOptions(NumClasses: 2)))
        {
            CheckpointWriter.WriteStateDict(weights, model.state_dict());
        }
        var outcome = EvaluationSession.Run(new EvalRequest
        {
            Model = "deit_ti_distilled",
            Checkpoint = weights,
            DataPath = Path.Combine(_dir, "photos"),
            BatchSize = 2,
            NumWorkers = 0,
        });
        Assert.Equal(2, outcome.Metrics.Count);
        Assert.Equal(224, ModelRegistry.Info("deit_ti_distilled").DefaultImgSize);
    }
}
