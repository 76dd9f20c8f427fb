using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace VkD.Tests.Interop.Onnx;

/// <summary>Helpers for the ONNX tests: fixture paths, temporary files, and running an exported graph.</summary>
internal static class OnnxTestSupport
{
    /// <summary>Path of a committed .onnx fixture (tools/fixtures/make_onnx_fixtures.py).</summary>
    public static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    /// <summary>A fresh temporary file path with the given extension.</summary>
    public static string TempFile(string extension = ".onnx") =>
        Path.Combine(Path.GetTempPath(), "vkd-onnx-" + Guid.NewGuid().ToString("N") + extension);

    /// <summary>Runs an ONNX file on <paramref name="input"/> with ONNX Runtime and returns the named outputs as tensors.</summary>
    public static Dictionary<string, Tensor> Run(string path, Tensor input, params string[] outputs)
    {
        using var session = new InferenceSession(path);
        var x = input.contiguous().to(ScalarType.Float32);
        var data = x.data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(data, x.shape);
        var inputName = session.InputMetadata.Keys.First();
        using var results = session.Run(new RunOptions(), [inputName], [value], outputs);
        var map = new Dictionary<string, Tensor>();
        for (var i = 0; i < outputs.Length; i++)
        {
            var r = results[i];
            map[outputs[i]] = tensor(r.GetTensorDataAsSpan<float>().ToArray(), r.GetTensorTypeAndShape().Shape);
        }
        return map;
    }

    /// <summary>Largest absolute difference between two tensors.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}
