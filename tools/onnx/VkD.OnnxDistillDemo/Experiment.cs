namespace VkD.OnnxDistillDemo;

/// <summary>Student training with and without distillation (filled in below).</summary>
internal static class Experiment
{
    public static int Run(DemoOptions o, PhotoFolder train, PhotoFolder val, FeatureCache cache) => 0;
}
