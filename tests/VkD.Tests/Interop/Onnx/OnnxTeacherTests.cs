using VkD.Interop.Onnx;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;
using static VkD.Tests.Interop.Onnx.OnnxTestSupport;

namespace VkD.Tests.Interop.Onnx;

/// <summary>The ONNX Runtime teacher against PyTorch outputs of tiny models exported by torch.onnx.export.</summary>
[Collection("Onnx")]
public sealed class OnnxTeacherTests
{
    [Fact]
    public void Dynamic_batch_model_matches_PyTorch_features_and_logits()
    {
        using var scope = NewDisposeScope();
        using var f = Fixture.Load("onnx", "tiny_cnn_io");
        using var teacher = OnnxTeacher.Open(FixturePath("tiny_cnn_dynamic.onnx"));

        var outputs = teacher.Forward(f["images"]);

        Assert.False(teacher.RunsPerImage);
        Assert.Equal(8, teacher.FeatureDim);
        Assert.Equal(5, teacher.NumClasses);
        Assert.Equal(new long[] { 3, 8 }, outputs.Features.shape);
        Assert.True(MaxAbsDiff(outputs.Features, f["pooled"]) < 1e-5);
        Assert.NotNull(outputs.Logits);
        Assert.True(MaxAbsDiff(outputs.Logits!, f["logits"]) < 1e-5);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Batch_of_one_model_runs_image_by_image_with_named_outputs(int sessions)
    {
        using var scope = NewDisposeScope();
        using var f = Fixture.Load("onnx", "tiny_cnn_io");
        var options = new OnnxTeacherOptions { FeatureOutput = "pool_out", LogitsOutput = "fc_out", ParallelSessions = sessions, IntraOpThreads = 1 };
        using var teacher = OnnxTeacher.Open(FixturePath("tiny_cnn_batch1.onnx"), options);

        var first = teacher.Forward(f["images"]);
        var again = teacher.Forward(f["images"][1..]);

        Assert.True(teacher.RunsPerImage);
        Assert.True(MaxAbsDiff(first.Features, f["pooled"]) < 1e-5);
        Assert.True(MaxAbsDiff(first.Logits!, f["logits"]) < 1e-5);
        Assert.True(MaxAbsDiff(again.Features, f["pooled"][1..]) < 1e-5);
    }

    [Theory]
    [InlineData(false, true, true)]
    [InlineData(true, false, true)]
    [InlineData(true, true, false)]
    [InlineData(false, false, false)]
    public void Memory_settings_change_no_output(bool arena, bool pattern, bool prepack)
    {
        using var scope = NewDisposeScope();
        using var f = Fixture.Load("onnx", "tiny_cnn_io");
        var options = new OnnxTeacherOptions { FeatureOutput = "pool_out", LogitsOutput = "fc_out", MemoryArena = arena, MemoryPattern = pattern, Prepacking = prepack };
        using var teacher = OnnxTeacher.Open(FixturePath("tiny_cnn_batch1.onnx"), options);

        var outputs = teacher.Forward(f["images"]);

        Assert.True(MaxAbsDiff(outputs.Features, f["pooled"]) < 1e-5);
        Assert.True(MaxAbsDiff(outputs.Logits!, f["logits"]) < 1e-5);
    }

    [Fact]
    public void Feature_only_teacher_has_no_logits()
    {
        using var scope = NewDisposeScope();
        using var f = Fixture.Load("onnx", "tiny_cnn_io");
        using var teacher = OnnxTeacher.Open(FixturePath("tiny_cnn_batch1.onnx"),
            new OnnxTeacherOptions { FeatureOutput = "pool_out", FeaturePooling = OnnxFeaturePooling.Max });

        var outputs = teacher.Forward(f["images"]);

        Assert.Null(outputs.Logits);
        Assert.Equal(0, teacher.NumClasses);
        Assert.True(MaxAbsDiff(outputs.Features, f["features"].amax([2, 3])) < 1e-5);
    }

    [Fact]
    public void Model_normalisation_is_applied_after_undoing_the_batch_normalisation()
    {
        using var scope = NewDisposeScope();
        using var f = Fixture.Load("onnx", "tiny_cnn_io");
        var batch = f["images"];
        // What the model should see: pixels in [0, 255], BGR, minus a per-channel mean, divided by a std.
        var mean = tensor(new[] { 0.485f, 0.456f, 0.406f }).view(1, 3, 1, 1);
        var std = tensor(new[] { 0.229f, 0.224f, 0.225f }).view(1, 3, 1, 1);
        var expectedInput = ((batch * std + mean) * 255f).flip(1);
        expectedInput = (expectedInput - tensor(new[] { 100f, 110f, 120f }).view(1, 3, 1, 1)) / 50f;
        using var plain = OnnxTeacher.Open(FixturePath("tiny_cnn_dynamic.onnx"));
        using var converting = OnnxTeacher.Open(FixturePath("tiny_cnn_dynamic.onnx"), new OnnxTeacherOptions
        {
            PixelScale = 255f,
            Bgr = true,
            ModelMean = [100f, 110f, 120f],
            ModelStd = [50f, 50f, 50f],
        });

        var expected = plain.Forward(expectedInput);
        var actual = converting.Forward(batch);

        Assert.True(MaxAbsDiff(actual.Features, expected.Features) < 1e-4);
    }

    [Fact]
    public void Batches_of_another_size_are_resized_to_the_fixed_model_input()
    {
        using var scope = NewDisposeScope();
        using var f = Fixture.Load("onnx", "tiny_cnn_io");
        using var teacher = OnnxTeacher.Open(FixturePath("tiny_cnn_dynamic.onnx"));
        var big = nn.functional.interpolate(f["images"], [32, 32], mode: InterpolationMode.Bilinear, align_corners: false);
        var expected = teacher.Forward(nn.functional.interpolate(big, [16, 16], mode: InterpolationMode.Bilinear, align_corners: false));

        var actual = teacher.Forward(big);

        Assert.Equal(16, teacher.InputSize);
        Assert.True(MaxAbsDiff(actual.Features, expected.Features) < 1e-6);
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        var path = TempFile();
        var ex = Assert.Throws<FileNotFoundException>(() => OnnxTeacher.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_ONNX_is_refused_with_its_path()
    {
        var path = TempFile();
        File.WriteAllText(path, "this is not a protobuf model");
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => OnnxTeacher.Open(path));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            Assert.Contains("not an ONNX model", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Unknown_output_name_lists_the_model_outputs_with_shapes()
    {
        var ex = Assert.Throws<InvalidDataException>(() =>
            OnnxTeacher.Open(FixturePath("tiny_cnn_batch1.onnx"), new OnnxTeacherOptions { FeatureOutput = "pool5" }));
        Assert.Contains("'pool5'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("pool_out: float32 [1,8,4,4]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("fc_out: float32 [1,5]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_outputs_without_conventional_names_need_a_feature_output()
    {
        var ex = Assert.Throws<InvalidDataException>(() => OnnxTeacher.Open(FixturePath("tiny_cnn_batch1.onnx")));
        Assert.Contains("pool_out", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--teacher-feature-output", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_float_output_is_refused_with_its_type()
    {
        var ex = Assert.Throws<InvalidDataException>(() => OnnxTeacher.Open(FixturePath("argmax_output.onnx")));
        Assert.Contains("class_index: int64", ex.Message, StringComparison.Ordinal);
        Assert.Contains("argmax_output.onnx", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Declared_input_size_that_the_model_fixes_otherwise_is_refused()
    {
        var ex = Assert.Throws<InvalidDataException>(() =>
            OnnxTeacher.Open(FixturePath("tiny_cnn_dynamic.onnx"), new OnnxTeacherOptions { InputSize = 20 }));
        Assert.Contains("images: float32 [batch,3,16,16]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batch_that_is_not_an_RGB_image_batch_is_refused_with_its_shape()
    {
        using var scope = NewDisposeScope();
        using var teacher = OnnxTeacher.Open(FixturePath("tiny_cnn_dynamic.onnx"));
        var ex = Assert.Throws<ArgumentException>(() => teacher.Forward(randn(2, 1, 16, 16)));
        Assert.Contains("[2,1,16,16]", ex.Message, StringComparison.Ordinal);
    }
}
