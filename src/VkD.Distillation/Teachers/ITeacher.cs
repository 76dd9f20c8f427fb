using static TorchSharp.torch;

namespace VkD.Distillation.Teachers;

/// <summary>What a frozen teacher gives for a batch: its logits (if it has a classifier) and its pooled features.</summary>
/// <param name="Logits">Teacher logits, [B, num_classes], or null for feature-only teachers (e.g. an ONNX backbone).</param>
/// <param name="Features">Pooled teacher features, [B, <see cref="ITeacher.FeatureDim"/>].</param>
public sealed record TeacherOutputs(Tensor? Logits, Tensor Features);

/// <summary>
/// A frozen teacher: a forward pass only, never part of autograd. Implemented by zoo models (TorchSharp) and by ONNX
/// Runtime sessions, so the trainer does not care where the teacher's numbers come from.
/// </summary>
public interface ITeacher : IDisposable
{
    /// <summary>Width of <see cref="TeacherOutputs.Features"/>.</summary>
    int FeatureDim { get; }

    /// <summary>Number of classes of the logits; 0 for feature-only teachers.</summary>
    int NumClasses { get; }

    /// <summary>The image side the teacher is meant for (an ONNX model's fixed input, the size a zoo teacher was
    /// trained at); 0 when it takes any size. The trainer feeds it images of this size.</summary>
    int InputSize => 0;

    /// <summary>Runs the teacher on a normalised image batch [B, 3, H, W] without autograd.</summary>
    TeacherOutputs Forward(Tensor images);
}
