using TorchSharp;
using VkD.Interop.Checkpoints;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Tests.Interop.Checkpoints;

/// <summary>Checkpoints written from C# read back with their nested entries (the reference training layout);
/// tools/check_checkpoint_roundtrip.py checks the same file with PyTorch's torch.load.</summary>
public sealed class CheckpointWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Nested_training_checkpoint_round_trips()
    {
        using var student = ModelRegistry.Create("deit_nano_convstem_distilled_32", new ModelOptions(NumClasses: 10));
        using var step = torch.tensor(7L);
        var entries = new Dictionary<string, object?>
        {
            ["student"] = student.state_dict().ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
            ["optimizer"] = new Dictionary<string, object?>
            {
                ["state"] = new Dictionary<int, object?> { [0] = new Dictionary<string, object?> { ["step"] = step } },
                ["param_groups"] = new List<object?> { new Dictionary<string, object?> { ["lr"] = 5e-4, ["params"] = new List<object?> { 0, 1 } } },
            },
            ["epoch"] = 3,
            ["args"] = new Dictionary<string, object?> { ["model"] = "deit_nano_convstem_distilled_32", ["amp"] = false, ["smoothing"] = 0.1f, ["none"] = null },
        };
        var path = Path.Combine(_dir, "sub", "latest.pth.tar");
        CheckpointWriter.Write(path, entries);
        // Optional hand check with PyTorch: VKD_ROUNDTRIP_OUT=/tmp/x.pth.tar, then tools/check_checkpoint_roundtrip.py.
        if (Environment.GetEnvironmentVariable("VKD_ROUNDTRIP_OUT") is { Length: > 0 } handCheck)
        {
            CheckpointWriter.Write(handCheck, entries);
        }
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temp file left behind

        using var ckpt = CheckpointReader.Read(path);
        Assert.Equal(3, ckpt.Entries["epoch"]);
        var args = Assert.IsType<Dictionary<string, object?>>(ckpt.Entries["args"]);
        Assert.Equal(false, args["amp"]);
        Assert.Equal(0.1, (double)args["smoothing"]!, 6);
        Assert.Null(args["none"]);
        var optimizer = Assert.IsType<Dictionary<string, object?>>(ckpt.Entries["optimizer"]);
        var state = Assert.IsType<Dictionary<object, object?>>(optimizer["state"]);
        Assert.Equal(7L, ((Tensor)((Dictionary<string, object?>)state[0]!)["step"]!).item<long>());

        using var copy = ModelRegistry.Create("deit_nano_convstem_distilled_32", new ModelOptions(NumClasses: 10));
        var report = CheckpointLoader.Load(copy, path);
        Assert.True(report.IsExact);
        foreach (var (key, tensor) in student.state_dict())
        {
            Assert.True(torch.allclose(tensor, copy.state_dict()[key], 0, 0), key);
        }
    }

    [Fact]
    public void Writing_replaces_an_existing_file_atomically()
    {
        var path = Path.Combine(_dir, "w.pth");
        using var a = torch.ones(3);
        using var b = torch.zeros(2, 2).t(); // non-contiguous input is written contiguously
        CheckpointWriter.Write(path, new Dictionary<string, object?> { ["x"] = a });
        CheckpointWriter.Write(path, new Dictionary<string, object?> { ["y"] = b });
        using var ckpt = CheckpointReader.Read(path);
        Assert.Equal(["y"], ckpt.Entries.Keys);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Unsupported_values_name_their_path_and_leave_no_file()
    {
        var path = Path.Combine(_dir, "bad.pth");
        var ex = Assert.Throws<ArgumentException>(() => CheckpointWriter.Write(path,
            new Dictionary<string, object?> { ["args"] = new Dictionary<string, object?> { ["when"] = DateTime.UnixEpoch } }));
        Assert.Contains("args.when", ex.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }
}
