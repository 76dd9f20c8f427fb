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
        Threads = 1,
        SaveEvery = 1,
        Seed = 7,
        OutputDir = outputDir,
    };

    /// <summary><see cref="Tiny"/> distilled from the shipped resnet32 teacher through a Householder projector, with
    /// mixup 0.8, cutmix 1.0 and the student EMA: every part of a VkD classification step.</summary>
    public static TrainingOptions TinyDistillation(string outputDir, int epochs = 2)
    {
        var o = Tiny(outputDir, epochs);
        o.Teacher = "resnet32";
        o.TeacherPath = TeacherPath;
        o.Mixup = 0.8;
        o.Cutmix = 1.0;
        o.StudentEma = true;
        o.Projector = "householder";
        return o;
    }
}

/// <summary>An observer that keeps the session's messages (the banner among them).</summary>
internal sealed class RecordedMessages : VkD.Training.Loop.ITrainingObserver
{
    public List<string> Lines { get; } = [];

    public void OnMessage(string message) => Lines.Add(message);
}
