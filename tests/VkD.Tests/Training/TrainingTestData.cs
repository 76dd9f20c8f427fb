using VkD.Training.Options;

namespace VkD.Tests.Training;

/// <summary>Tiny, fast runs on the shipped Fashion-MNIST subset (assets/ is copied next to the test binaries).</summary>
internal static class TrainingTestData
{
    public static string Assets => Path.Combine(AppContext.BaseDirectory, "assets");

    public static string DataPath => Path.Combine(Assets, "fashion-mnist-mini");

    public static string TeacherPath => Path.Combine(Assets, "teachers", "resnet32_fmnist_mini.pth");

    /// <summary>resnet8 on 192 training / 96 test images, batch 32 (6 steps per epoch), one thread for determinism
    /// independent of the machine.</summary>
    public static TrainingOptions Tiny(string outputDir, int epochs = 2) => new()
    {
        StudentModel = "resnet8",
        DataSet = "fashion-mnist",
        DataPath = DataPath,
        TrainSubset = 192,
        EvalSubset = 96,
        BatchSize = 32,
        Epochs = epochs,
        Lr = 3e-3,
        MinLr = 1e-5,
        Mixup = 0,
        Cutmix = 0,
        NumWorkers = 1,
        SaveEvery = 1,
        Seed = 7,
        OutputDir = outputDir,
    };
}
