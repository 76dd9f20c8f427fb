using TorchSharp;
using VkD.Distillation.Teachers;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Training.Teachers;

/// <summary>
/// A zoo classifier used as a frozen teacher: eval mode, no autograd, gradients switched off on every parameter.
/// Its features are the pooled pre-logits features (the reference's <c>forward_features(x).mean((2,3))</c> for a
/// CNN teacher) and its logits the classifier head's output.
/// </summary>
public sealed class ModelTeacher : ITeacher
{
    /// <summary>Freezes <paramref name="model"/> and takes ownership of it.</summary>
    /// <param name="model">The teacher network.</param>
    /// <param name="name">Its zoo name.</param>
    /// <param name="inputSize">The image side it was trained at (0: unknown, it gets the student's).</param>
    public ModelTeacher(ClassifierModel model, string name, int inputSize = 0)
    {
        Model = model;
        Name = name;
        InputSize = inputSize;
        model.eval();
        foreach (var p in model.parameters())
        {
            p.requires_grad = false;
        }
    }

    /// <summary>The wrapped model.</summary>
    public ClassifierModel Model { get; }

    /// <summary>Zoo name of the model.</summary>
    public string Name { get; }

    /// <inheritdoc />
    public int InputSize { get; }

    /// <inheritdoc />
    public int FeatureDim => Model.NumFeatures;

    /// <inheritdoc />
    public int NumClasses => Model.NumClasses;

    /// <inheritdoc />
    public TeacherOutputs Forward(Tensor images)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // Kept in eval mode even if a caller toggled train() on a parent: BN statistics must stay frozen.
        Model.eval();
        var features = Model.ForwardFeatures(images);
        var pooled = Model.ForwardHead(features, preLogits: true);
        Tensor? logits = Model.NumClasses > 0 ? Model.ForwardHead(features) : null;
        return new TeacherOutputs(logits?.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
