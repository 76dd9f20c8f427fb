using VkD.Cli.Commands;

namespace VkD.Tests.Interop.Onnx;

/// <summary>Issue 18.12: a known ONNX teacher is one word in the CLI, as in the C# API.</summary>
public sealed class OnnxTeacherPresetTests
{
    [Fact]
    public void The_mlnet_resnet18_preset_sets_the_models_input_conventions_and_later_keys_override()
    {
        var model = Path.Combine("/pkg", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
        var (path, o) = OnnxTeacherWiring.ParseSpec(model + "?preset=mlnet-resnet18&threads=2");
        Assert.Equal(model, path);
        Assert.Equal(Path.Combine("/pkg", "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx"), o.PreprocessorPath);
        Assert.Equal(255f, o.PixelScale);
        Assert.Equal(224, o.InputSize);
        Assert.Equal("Pooling395_Output_0", o.FeatureOutput);
        Assert.Equal(2, o.IntraOpThreads);
        var (_, overridden) = OnnxTeacherWiring.ParseSpec(model + "?preset=mlnet-resnet18&size=160");
        Assert.Equal(160, overridden.InputSize);
        var e = Assert.Throws<ArgumentException>(() => OnnxTeacherWiring.ParseSpec(model + "?preset=vgg"));
        Assert.Contains("vgg", e.Message);
        Assert.Contains("mlnet-resnet18", e.Message);
    }

    [Fact]
    public void Memory_settings_are_keys_of_the_spec_and_a_bad_value_is_named()
    {
        var (_, o) = OnnxTeacherWiring.ParseSpec("m.onnx?arena=off&mem-pattern=0&prepack=false");
        Assert.False(o.MemoryArena);
        Assert.False(o.MemoryPattern);
        Assert.False(o.Prepacking);
        var (_, d) = OnnxTeacherWiring.ParseSpec("m.onnx");
        Assert.True(d.MemoryArena && d.MemoryPattern && d.Prepacking);
        var e = Assert.Throws<ArgumentException>(() => OnnxTeacherWiring.ParseSpec("m.onnx?arena=maybe"));
        Assert.Contains("'arena'", e.Message);
        Assert.Contains("maybe", e.Message);
    }
}
