using VkD.Models;

namespace VkD.Interop.Onnx;

/// <summary>Names of the two outputs a classifier export writes.</summary>
/// <param name="Logits">Value holding the class logits [B, num_classes] (for distilled DeiTs: the mean of both heads,
/// as timm's eval forward), or null for a model without a classifier.</param>
/// <param name="Features">Value holding the pooled features [B, num_features]: the features
/// <see cref="ClassifierModel.ForwardForDistillation"/> returns (pre-logits; for two-head DeiTs the patch-token mean).</param>
public sealed record OnnxClassifierOutputs(string? Logits, string Features);

/// <summary>Writes one model family (ResNet, RegNetY, DeiT, ...) into an ONNX graph: the composition of its blocks,
/// delegating layers to <see cref="OnnxExportContext.Emit"/>.</summary>
public interface IOnnxArchitectureExporter
{
    /// <summary>True when this exporter knows the model's type.</summary>
    bool CanExport(ClassifierModel model);

    /// <summary>Writes the model applied to <paramref name="input"/> and returns its logits and pooled features.</summary>
    OnnxClassifierOutputs Emit(OnnxExportContext context, ClassifierModel model, string input, OnnxExportOptions options);
}
