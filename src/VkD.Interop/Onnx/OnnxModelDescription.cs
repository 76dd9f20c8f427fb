using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace VkD.Interop.Onnx;

/// <summary>Readable names, element types and shapes of an ONNX Runtime session's inputs and outputs, for error
/// messages and logs (e.g. <c>Input247: float32 [1,3,224,224]</c>).</summary>
internal static class OnnxModelDescription
{
    /// <summary>One line per input and output of <paramref name="session"/>.</summary>
    public static string Describe(InferenceSession session) =>
        $"inputs {Join(session.InputMetadata)}; outputs {Join(session.OutputMetadata)}";

    /// <summary>The inputs or outputs of a session as <c>name: type [shape]</c>, comma separated.</summary>
    public static string Join(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(kv => Format(kv.Key, kv.Value)));

    /// <summary><c>name: type [shape]</c>, with symbolic dimensions by name (or <c>?</c>).</summary>
    public static string Format(string name, NodeMetadata meta)
    {
        if (!meta.IsTensor)
        {
            return $"{name}: {meta.OnnxValueType} (not a tensor)";
        }
        var dims = meta.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : (i < meta.SymbolicDimensions.Length && meta.SymbolicDimensions[i].Length > 0 ? meta.SymbolicDimensions[i] : "?"));
        return $"{name}: {TypeName(meta.ElementDataType)} [{string.Join(",", dims)}]";
    }

    /// <summary>ONNX spelling of an element type (float32, int64, ...).</summary>
    public static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        TensorElementType.Float16 => "float16",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Int64 => "int64",
        TensorElementType.Int32 => "int32",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Int8 => "int8",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "string",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>A shape as <c>[a,b,c]</c>.</summary>
    public static string Shape(IEnumerable<long> dims) => "[" + string.Join(",", dims) + "]";
}
