using System.Text.Json;
using TorchSharp;
using VkD.Interop.Checkpoints;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Tests.Models;

/// <summary>Shared helpers for the model parity tests.</summary>
internal static class ModelTestSupport
{
    public static string FixturePath(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "models", file);

    /// <summary>Loads Fixtures/models/&lt;name&gt;_weights.pth strictly into the model and switches it to eval.</summary>
    public static T LoadWeights<T>(T model, string name) where T : nn.Module
    {
        var report = CheckpointLoader.Load(model, FixturePath(name + "_weights.pth"));
        Assert.True(report.IsExact, report.Describe());
        model.eval();
        return model;
    }

    /// <summary>Asserts equal shape and values within <paramref name="tol"/> (absolute + relative).</summary>
    public static void AssertClose(Tensor expected, Tensor actual, double tol = 1e-4, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        var diff = (expected - actual).abs();
        var bound = expected.abs() * tol + tol;
        var worst = diff.max().item<float>();
        Assert.True((diff <= bound).all().item<bool>(), $"{what}: max abs diff {worst} exceeds tolerance {tol}");
    }

    /// <summary>Names and shapes per model from Fixtures/models/layouts.json (written from the PyTorch references).</summary>
    public static IReadOnlyList<(string Key, long[] Shape)> Layout(string model)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePath("layouts.json")));
        return doc.RootElement.GetProperty(model).EnumerateArray()
            .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray()))
            .ToList();
    }

    public static long ParameterCount(nn.Module module) => module.parameters().Sum(p => p.numel());

    /// <summary>Fills every state-dict entry from its key, exactly as make_model_fixtures.py's formula_weights does,
    /// so full-size architectures can be compared without storing their weights.</summary>
    public static void FillFormulaWeights(nn.Module module)
    {
        using var noGrad = torch.no_grad();
        foreach (var (key, t) in module.state_dict())
        {
            using var scope = NewDisposeScope();
            if (key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            {
                t.zero_();
                continue;
            }
            var n = t.numel();
            long h = 0;
            for (var i = 0; i < key.Length; i++)
            {
                h += (i + 1) * key[i];
            }
            h %= 1009;
            var b = (torch.arange(n, dtype: float64) * 0.7 + h * 0.1).sin().reshape(t.shape);
            var leaf = key[(key.LastIndexOf('.') + 1)..];
            var v = leaf switch
            {
                "running_var" => 1 + 0.5 * b * b,
                "running_mean" => 0.1 * b,
                "cls_token" or "dist_token" or "pos_embed" => 0.02 * b,
                "bias" => 0.1 * b,
                _ when t.dim() == 1 => 1 + 0.1 * b,
                _ => b * Math.Sqrt(2.0 / (n / t.shape[0])),
            };
            t.copy_(v.to(t.dtype));
        }
    }
}
