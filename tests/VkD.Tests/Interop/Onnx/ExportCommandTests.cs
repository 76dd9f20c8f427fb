using VkD.Interop.Onnx;
using static VkD.Tests.Interop.Onnx.OnnxTestSupport;

namespace VkD.Tests.Interop.Onnx;

/// <summary><c>vkd export</c> end to end: writes a file that ONNX Runtime opens as a teacher.</summary>
[Collection("Onnx")]
public sealed class ExportCommandTests
{
    [Fact]
    public void Export_command_writes_a_verified_ONNX_model()
    {
        var path = TempFile();
        try
        {
            var code = VkD.Cli.Program.Main(["export", "--model", "resnet8", "--random-weights", "--num-classes", "3",
                "--img-size", "32", "--output", path]);

            Assert.Equal(0, code);
            using var teacher = OnnxTeacher.Open(path);
            Assert.Equal(3, teacher.NumClasses);
            Assert.Equal(64, teacher.FeatureDim);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
