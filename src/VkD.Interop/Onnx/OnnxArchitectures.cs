namespace VkD.Interop.Onnx;

/// <summary>The architecture exporters for the VkD.Models zoo.</summary>
internal static class OnnxArchitectures
{
    /// <summary>All built-in family exporters.</summary>
    public static IEnumerable<IOnnxArchitectureExporter> BuiltIn() => [];
}
