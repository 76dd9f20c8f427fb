using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Training.Loop;
using VkD.Training.Sessions;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Tests.Training;

/// <summary><c>--teacher-precision bf16</c> (issue 17): a zoo teacher computes in bfloat16, hands float32 outputs to the
/// distiller, and its agreement with float32 is measured on real evaluation images and printed.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class TeacherPrecisionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-teacher-precision-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_bf16_teacher_returns_float32_outputs_close_to_its_float32_self()
    {
        random.manual_seed(2);
        var model = ModelRegistry.Create("resnet32", new ModelOptions(10, 28, 0, 1));
        CheckpointLoader.Load(model, TrainingTestData.TeacherPath);
        using var teacher = new ModelTeacher(model, "resnet32", 28);
        using var scope = NewDisposeScope();
        var images = randn(8, 1, 28, 28);
        var reference = teacher.Forward(images);
        teacher.SetPrecision(ScalarType.BFloat16, images.clone());

        Assert.Equal(ScalarType.BFloat16, model.parameters().First().dtype);
        var reduced = teacher.Forward(images);
        Assert.Equal(ScalarType.Float32, reduced.Features.dtype);
        Assert.Equal(ScalarType.Float32, reduced.Logits!.dtype);
        var agreement = teacher.Agreement!;
        Assert.Equal(8, agreement.Images);
        // bf16 keeps 8 bits of mantissa: the features move by about 2^-8 relative, not more, and not zero.
        Assert.InRange(agreement.RelativeFeatureError, 1e-4, 0.05);
        Assert.True(agreement.FeatureCosine > 0.999, agreement.ToString());
        Assert.Equal(agreement.RelativeFeatureError, ((reduced.Features - reference.Features).norm() / reference.Features.norm()).item<float>(), 3);
    }

    [Fact]
    public void Distillation_with_a_bf16_teacher_prints_its_agreement_and_trains()
    {
        var o = TrainingTestData.Tiny(_dir, epochs: 1);
        o.Teacher = "resnet32";
        o.TeacherPath = TrainingTestData.TeacherPath;
        o.TeacherPrecision = "bf16";
        var messages = new RecordedMessages();
        var result = TrainingSession.Run(SessionKind.Distill, o, messages);

        var line = Assert.Single(messages.Lines, l => l.StartsWith("teacher resnet32", StringComparison.Ordinal));
        Assert.Contains("BFloat16 against float32 on 16 evaluation images: top-1 agreement", line);
        Assert.True(double.IsFinite(result.Final!.Loss));
    }

    [Theory]
    [InlineData("fp16")]
    [InlineData("")]
    public void An_unknown_precision_names_the_flag_and_the_choices(string value)
    {
        var o = TrainingTestData.Tiny(_dir, epochs: 1);
        o.Teacher = "resnet32";
        o.TeacherPath = TrainingTestData.TeacherPath;
        o.TeacherPrecision = value;
        var ex = Assert.Throws<ArgumentException>(() => TrainingSession.Run(SessionKind.Distill, o));
        Assert.Contains($"--teacher-precision {value} is unknown; use fp32 or bf16", ex.Message);
    }
}
