using VkD.Interop.Checkpoints;
using static TorchSharp.torch;

namespace VkD.Tests.Detection.Models;

/// <summary>Helpers for the ViDT model parity tests (fixtures from tools/fixtures/make_vidt_fixtures.py).</summary>
internal static class VidtTestSupport
{
    public const string Part = "vidt";

    public static string FixturePath(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", Part, file);

    /// <summary>Loads Fixtures/vidt/&lt;file&gt; strictly into the module and switches it to eval.</summary>
    public static T LoadWeights<T>(T module, string file, StateDictOptions? options = null) where T : nn.Module
    {
        var report = CheckpointLoader.Load(module, FixturePath(file), options);
        Assert.True(report.IsExact, report.Describe());
        module.eval();
        return module;
    }

    /// <summary>Reads Fixtures/vidt/layouts.json: key names and shapes of a PyTorch state dict, in PyTorch order.</summary>
    public static List<(string Key, long[] Shape)> Layout(string model)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(FixturePath("layouts.json")));
        return doc.RootElement.GetProperty(model).EnumerateArray()
            .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray()))
            .ToList();
    }

    /// <summary>(H, W) rows of a [L, 2] integer tensor.</summary>
    public static (long Height, long Width)[] Shapes(Tensor t)
    {
        var v = t.to(int64).data<long>().ToArray();
        return Enumerable.Range(0, v.Length / 2).Select(i => (v[2 * i], v[2 * i + 1])).ToArray();
    }

    /// <summary>Asserts equal shapes and max |expected − actual| ≤ <paramref name="tol"/>; returns the max error.</summary>
    public static double AssertClose(Tensor expected, Tensor actual, double tol = 1e-4, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        var worst = (expected.to(float64) - actual.to(float64)).abs().max().item<double>();
        Assert.True(worst <= tol, $"{what}: max abs diff {worst:g3} exceeds {tol:g3}");
        return worst;
    }
}
