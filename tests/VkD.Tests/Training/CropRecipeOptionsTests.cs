using VkD.Tests.Data;
using VkD.Training.Sessions;

namespace VkD.Tests.Training;

/// <summary>--scale-min/--scale-max/--no-three-augment reach the crop recipe of photos, and bad values are refused.</summary>
public sealed class CropRecipeOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-crop-recipe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Photos()
    {
        foreach (var split in new[] { "train", "val" })
        {
            foreach (var cls in new[] { "cat", "dog" })
            {
                for (var i = 0; i < 2; i++)
                {
                    DataTestHelpers.WriteImage(Path.Combine(_dir, split, cls, $"{i}.png"), DataTestHelpers.Pattern(64, 48, i));
                }
            }
        }
        return _dir;
    }

    [Fact]
    public void The_crop_flags_change_the_photo_recipe_and_only_it()
    {
        var o = TrainingTestData.Tiny(Path.Combine(_dir, "run"));
        o.DataSet = "auto";
        o.DataPath = Photos();
        o.TrainSubset = 0;
        o.EvalSubset = 0;
        o.BatchSize = 2;
        o.InputSize = 32;
        var reference = DataSources.Open(o).TrainAugmentation;
        Assert.Contains("ScaleMin = 0.08", reference);
        Assert.Contains("ThreeAugment = True", reference);
        o.ScaleMin = 0.5;
        o.ScaleMax = 0.9;
        o.NoThreeAugment = true;
        var mild = DataSources.Open(o).TrainAugmentation;
        Assert.Contains("ScaleMin = 0.5", mild);
        Assert.Contains("ScaleMax = 0.9", mild);
        Assert.Contains("ThreeAugment = False", mild);
    }

    [Theory]
    [InlineData(0.0, 1.0, "--scale-min")]
    [InlineData(0.6, 0.5, "--scale-max")]
    [InlineData(0.5, 1.5, "--scale-max")]
    public void Bad_crop_ranges_are_refused_naming_the_flag(double min, double max, string flag)
    {
        var o = TrainingTestData.Tiny(Path.Combine(_dir, "bad"));
        o.ScaleMin = min;
        o.ScaleMax = max;
        var e = Assert.Throws<ArgumentException>(() => TrainingSession.Validate(SessionKind.Train, o));
        Assert.Contains(flag, e.Message);
    }
}
