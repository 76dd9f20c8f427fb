namespace VkD.Interop.Onnx;

/// <summary>Options of <see cref="OnnxExporter"/>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Default-domain opset (17 to 21). From 20 GELU is written as the Gelu operator, else decomposed via Erf.</summary>
    public int Opset { get; init; } = 17;

    /// <summary>Extra <c>metadata_props</c> of the model (key → value); the exporter adds <c>vkd.model</c> (the
    /// module's type name unless given here), <c>vkd.input_size</c>, <c>vkd.in_chans</c> and <c>vkd.num_classes</c> itself. ONNX Runtime reads them as
    /// <c>ModelMetadata.CustomMetadataMap</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Square image size of the exported input (and of the position embeddings for ViTs).</summary>
    public int InputSize { get; init; } = 224;

    /// <summary>Image channels of the input.</summary>
    public int InChannels { get; init; } = 3;

    /// <summary>True writes a symbolic batch dimension (<c>batch</c>); false fixes it at <see cref="BatchSize"/>.</summary>
    public bool DynamicBatch { get; init; } = true;

    /// <summary>Batch size written when <see cref="DynamicBatch"/> is false.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Name of the image input.</summary>
    public string InputName { get; init; } = "images";
}
