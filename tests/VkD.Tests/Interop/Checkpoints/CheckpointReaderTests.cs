using TorchSharp;
using TorchSharp.PyBridge;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;
using static VkD.Tests.Models.ModelTestSupport;

namespace VkD.Tests.Interop.Checkpoints;

/// <summary>Reading PyTorch checkpoints in the layouts users bring (VkD release, DeiT teacher) and rejecting bad files
/// with clear errors.</summary>
public sealed class CheckpointReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ConvStemDistilledVisionTransformer SmallVkdStudent() =>
        new(new VisionTransformerConfig(64, 16, 3, 5, 32, 2, 2), new ConvStemConfig(16, 7, 2, 8));

    [Fact]
    public void Vkd_release_checkpoint_loads_the_student_without_module_prefix_and_projector()
    {
        var path = FixturePath("vkd_small_latest.pth.tar");
        using var model = SmallVkdStudent();
        // Default options unwrap "student" and strip "module."; the projector keys are unexpected for the bare student.
        var ex = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(model, path));
        Assert.Equal(["projector.parametrizations.weight.0.base", "projector.parametrizations.weight.original"], ex.Report.Unexpected.Order());
        Assert.Empty(ex.Report.Missing);
        Assert.Contains("projector.parametrizations.weight.original", ex.Message);

        var report = CheckpointLoader.Load(model, path, new StateDictOptions { ExcludePrefixes = ["projector."] });
        Assert.True(report.IsExact);
        model.eval();
        using var f = Fixture.Load("models", "vkd_small");
        using var noGrad = no_grad();
        using var logits = model.forward(f["input"]);
        AssertClose(f["logits"], logits, what: "student logits");
    }

    [Fact]
    public void Projector_parametrization_keys_can_be_selected_by_prefix()
    {
        var sd = CheckpointReader.ReadStateDict(FixturePath("vkd_small_latest.pth.tar"), new StateDictOptions { SelectPrefix = "projector." });
        Assert.Equal(["parametrizations.weight.0.base", "parametrizations.weight.original"], sd.Keys.Order());
        Assert.Equal(new long[] { 48, 32 }, sd["parametrizations.weight.original"].shape);
        Assert.Equal(new long[] { 48, 48 }, sd["parametrizations.weight.0.base"].shape);
        foreach (var t in sd.Values)
        {
            t.Dispose();
        }
    }

    [Fact]
    public void Non_tensor_entries_of_a_training_checkpoint_are_readable()
    {
        using var ckpt = CheckpointReader.Read(FixturePath("vkd_small_latest.pth.tar"));
        Assert.Equal(3, ckpt.Entries["epoch"]);
        var args = Assert.IsType<Dictionary<string, object?>>(ckpt.Entries["args"]);
        Assert.Equal("deit_ti_distilled", args["student_model"]);
        Assert.Equal(5e-4, (double)args["lr"]!);
        var optimizer = Assert.IsType<Dictionary<string, object?>>(ckpt.Entries["optimizer"]);
        var groups = Assert.IsType<List<object?>>(optimizer["param_groups"]);
        Assert.Single(groups);
        Assert.False(ckpt.IsStateDict);
    }

    [Fact]
    public void Deit_teacher_layout_with_a_model_entry_loads_into_regnet()
    {
        using var model = new RegNet(new RegNetConfig(6, 16, 16, 2.0, 8, 0.25), numClasses: 5);
        var report = CheckpointLoader.Load(model, FixturePath("regnet_small_deit_layout.pth"));
        Assert.True(report.IsExact);
        model.eval();
        using var f = Fixture.Load("models", "regnet_small");
        using var noGrad = no_grad();
        using var logits = model.forward(f["input"]);
        AssertClose(f["logits"], logits, what: "regnet logits");
    }

    [Fact]
    public void Choosing_a_missing_entry_lists_the_entries()
    {
        var ex = Assert.Throws<KeyNotFoundException>(() =>
            CheckpointReader.ReadStateDict(FixturePath("vkd_small_latest.pth.tar"), new StateDictOptions { Entry = "student_ema" }));
        Assert.Contains("student_ema", ex.Message);
        Assert.Contains("student", ex.Message);
        Assert.Contains("optimizer", ex.Message);
    }

    [Fact]
    public void A_missing_key_fails_strict_and_warns_non_strict()
    {
        using var model = new CifarResNet(8, [16, 16, 32, 64], 10);
        var sd = CheckpointReader.ReadStateDict(FixturePath("resnet8_weights.pth"));
        sd.Remove("layer2.0.bn1.running_var");
        var path = Path.Combine(_dir, "missing.pth");
        CheckpointWriter.WriteStateDict(path, sd);
        var ex = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(model, path));
        Assert.Contains("missing keys (1): layer2.0.bn1.running_var", ex.Message);
        Assert.Contains(path, ex.Message);

        var report = CheckpointLoader.Load(model, path, strict: false);
        Assert.Equal(["layer2.0.bn1.running_var"], report.Missing);
        Assert.Equal(sd.Count, report.Loaded.Count);
        Assert.Contains("missing keys", report.Describe());
        // Non-strict copies what matches.
        Assert.True(torch.allclose(sd["fc.weight"], model.state_dict()["fc.weight"], 0, 0));
    }

    [Fact]
    public void A_wrong_shape_is_reported_with_both_shapes_and_nothing_is_copied()
    {
        using var model = new CifarResNet(8, [16, 16, 32, 64], 10);
        using var before = model.state_dict()["conv1.weight"].clone();
        var sd = CheckpointReader.ReadStateDict(FixturePath("resnet8_weights.pth"));
        sd["fc.weight"] = torch.zeros(7, 64);
        var ex = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.LoadStateDict(model, sd));
        Assert.Contains("fc.weight: expected [10, 64], found [7, 64]", ex.Message);
        Assert.Single(ex.Report.ShapeMismatches);
        Assert.True(torch.allclose(before, model.state_dict()["conv1.weight"], 0, 0), "a failed strict load must not modify the model");
    }

    [Fact]
    public void A_truncated_file_gives_a_clear_error_naming_it()
    {
        var bytes = File.ReadAllBytes(FixturePath("resnet8_weights.pth"));
        var path = Path.Combine(_dir, "truncated.pth");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void Random_bytes_and_empty_files_give_clear_errors()
    {
        var random = Path.Combine(_dir, "random.pth");
        File.WriteAllBytes(random, Enumerable.Range(0, 4096).Select(i => (byte)((i * 7919 + 13) % 251)).ToArray());
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(random));
        Assert.Contains(random, ex.Message);
        Assert.Contains("unknown format", ex.Message);

        var empty = Path.Combine(_dir, "empty.pth");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty", Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(empty)).Message);
        Assert.Throws<FileNotFoundException>(() => CheckpointReader.Read(Path.Combine(_dir, "nope.pth")));
    }

    [Fact]
    public void A_legacy_pickle_says_how_to_resave_it()
    {
        // torch.save(..., _use_new_zipfile_serialization=False) starts with PROTO 2 and the pickled magic number.
        byte[] header = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02];
        var path = Path.Combine(_dir, "legacy.pth");
        File.WriteAllBytes(path, header);
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Read(path));
        Assert.Contains("legacy", ex.Message);
        Assert.Contains("_use_new_zipfile_serialization=True", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Safetensors_files_are_read()
    {
        var path = Path.Combine(_dir, "w.safetensors");
        using var a = torch.arange(6, dtype: float32).reshape(2, 3);
        Safetensors.SaveStateDict(path, new Dictionary<string, Tensor> { ["module.a"] = a });
        var sd = CheckpointReader.ReadStateDict(path);
        Assert.Equal(["a"], sd.Keys);
        Assert.True(torch.allclose(a, sd["a"], 0, 0));
    }

    [Fact]
    public void Torchvision_regnet_names_map_to_timm_names()
    {
        Assert.Equal("stem.conv.weight", KeyMaps.TorchvisionRegNet("stem.0.weight"));
        Assert.Equal("s2.b3.conv2.bn.running_mean", KeyMaps.TorchvisionRegNet("trunk_output.block2.block2-2.f.b.1.running_mean"));
        Assert.Equal("s1.b1.se.fc1.weight", KeyMaps.TorchvisionRegNet("trunk_output.block1.block1-0.f.se.excitation.0.weight"));
        Assert.Equal("s1.b1.downsample.bn.weight", KeyMaps.TorchvisionRegNet("trunk_output.block1.block1-0.proj.1.weight"));
        Assert.Equal("head.fc.bias", KeyMaps.TorchvisionRegNet("fc.bias"));
    }
}
