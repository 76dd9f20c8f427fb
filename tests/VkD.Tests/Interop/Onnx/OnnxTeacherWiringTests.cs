using VkD.Cli.Commands;
using VkD.Interop.Onnx;
using VkD.Tests.Infrastructure;
using VkD.Training.Teachers;
using static TorchSharp.torch;
using static VkD.Tests.Interop.Onnx.OnnxTestSupport;

namespace VkD.Tests.Interop.Onnx;

/// <summary><c>vkd distill --teacher onnx:PATH?key=value</c> reaches the ONNX teacher through the train part's factory.</summary>
[Collection("Onnx")]
public sealed class OnnxTeacherWiringTests
{
    [Fact]
    public void Onnx_teacher_spec_with_options_builds_the_teacher_through_the_factory()
    {
        using var scope = NewDisposeScope();
        using var f = Fixture.Load("onnx", "tiny_cnn_io");
        OnnxTeacherWiring.Register();
        var spec = $"onnx:{FixturePath("tiny_cnn_batch1.onnx")}?features=pool_out&logits=fc_out&pool=max&sessions=2&threads=1";

        using var teacher = TeacherFactory.Create(new TeacherRequest(spec, "", 5, 16));
        var outputs = teacher.Forward(f["images"]);

        Assert.IsType<OnnxTeacher>(teacher);
        Assert.True(MaxAbsDiff(outputs.Features, f["features"].amax([2, 3])) < 1e-5);
        Assert.True(MaxAbsDiff(outputs.Logits!, f["logits"]) < 1e-5);
    }

    [Fact]
    public void Unknown_spec_option_is_named_with_the_known_ones()
    {
        var ex = Assert.Throws<ArgumentException>(() => OnnxTeacherWiring.OpenOnnx(FixturePath("tiny_cnn_dynamic.onnx") + "?feature=x"));
        Assert.Contains("'feature'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("features, logits", ex.Message, StringComparison.Ordinal);
    }
}
