using TorchSharp.Modules;
using VkD.Interop.Onnx;
using VkD.Models;
using static TorchSharp.torch;
using static VkD.Tests.Interop.Onnx.OnnxTestSupport;

namespace VkD.Tests.Interop.Onnx;

/// <summary>Zoo models exported to ONNX and run by ONNX Runtime give TorchSharp's logits and features within 1e-4.</summary>
[Collection("Onnx")]
public sealed class OnnxModelExportTests
{
    public static TheoryData<string, int, int> Models => new()
    {
        { "resnet18", 32, 17 },
        { "resnet8", 32, 17 },
        { "regnety_002", 32, 18 },
        { "deit_nano_patch4_32", 32, 17 },
        { "deit_nano_distilled_patch4_32", 32, 20 },
        { "deit_nano_convstem_distilled_32", 32, 17 },
        { "deit_ti_distilled", 32, 18 },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Exported_model_matches_TorchSharp(string name, int size, int opset)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = ModelRegistry.Create(name, new ModelOptions(NumClasses: 7, ImgSize: size));
        RandomizeBatchNormStatistics(model);
        model.eval();
        var x = randn(2, 3, size, size);
        Tensor expectedLogits, expectedFeatures;
        using (no_grad())
        {
            expectedLogits = model.forward(x);
            expectedFeatures = model.ForwardForDistillation(x).PooledFeatures;
        }
        var path = TempFile();
        try
        {
            OnnxExporter.Export(model, path, new OnnxExportOptions { InputSize = size, Opset = opset });
            var actual = Run(path, x, "logits", "features");

            Assert.Equal(new long[] { 2, 7 }, actual["logits"].shape);
            Assert.Equal(new long[] { 2, model.NumFeatures }, actual["features"].shape);
            Assert.True(MaxAbsDiff(expectedLogits, actual["logits"]) < 1e-4, $"logits differ by {MaxAbsDiff(expectedLogits, actual["logits"])}");
            Assert.True(MaxAbsDiff(expectedFeatures, actual["features"]) < 1e-4, $"features differ by {MaxAbsDiff(expectedFeatures, actual["features"])}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Exported_zoo_model_opens_as_a_teacher_with_default_options()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = ModelRegistry.Create("resnet8", new ModelOptions(NumClasses: 5));
        model.eval();
        var x = randn(3, 3, 32, 32);
        var path = TempFile();
        try
        {
            OnnxExporter.Export(model, path, new OnnxExportOptions { InputSize = 32 });
            using var teacher = OnnxTeacher.Open(path);
            var outputs = teacher.Forward(x);
            using var noGrad = no_grad();
            var expected = model.ForwardForDistillation(x);

            Assert.Equal(model.NumFeatures, teacher.FeatureDim);
            Assert.Equal(5, teacher.NumClasses);
            Assert.True(MaxAbsDiff(outputs.Features, expected.PooledFeatures) < 1e-4);
            Assert.True(MaxAbsDiff(outputs.Logits!, expected.Logits) < 1e-4);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Zoo_teacher_through_ONNX_Runtime_matches_the_TorchSharp_teacher_and_cleans_up_its_file()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = ModelRegistry.Create("deit_nano_convstem_distilled_32", new ModelOptions(NumClasses: 4));
        model.eval();
        var x = randn(2, 3, 32, 32);
        var before = Directory.GetFiles(Path.GetTempPath(), "vkd-teacher-*.onnx").Length;
        var teacher = OnnxTeacher.FromModel(model, 32, new OnnxTeacherOptions { BatchMean = [0.5f, 0.5f, 0.5f], BatchStd = [0.5f, 0.5f, 0.5f] });
        var outputs = teacher.Forward(x);
        using (no_grad())
        {
            var expected = model.ForwardForDistillation(x);
            Assert.True(MaxAbsDiff(outputs.Features, expected.PooledFeatures) < 1e-4);
            Assert.True(MaxAbsDiff(outputs.Logits!, model.forward(x)) < 1e-4);
        }
        teacher.Dispose();
        Assert.Equal(before, Directory.GetFiles(Path.GetTempPath(), "vkd-teacher-*.onnx").Length);
    }

    [Fact]
    public void ViT_export_at_another_size_than_its_position_embedding_is_refused()
    {
        using var model = ModelRegistry.Create("deit_nano_patch4_32", new ModelOptions(NumClasses: 3));
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(model, TempFile(), new OnnxExportOptions { InputSize = 64 }));
        Assert.Contains("32", ex.Message, StringComparison.Ordinal);
    }

    private static void RandomizeBatchNormStatistics(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var bn in model.modules().OfType<BatchNorm2d>())
        {
            bn.running_mean!.uniform_(-0.2, 0.2);
            bn.running_var!.uniform_(0.5, 1.5);
            bn.weight!.uniform_(0.5, 1.5);
            bn.bias!.uniform_(-0.2, 0.2);
        }
    }
}
