using static TorchSharp.torch;

namespace VkD.Distillation.Distiller;

/// <summary>
/// One named term of a run's loss: a feature pair (VkD's projector + normalisation + distance), the cross-entropy,
/// logit KD, or a method that is not a pair-wise distance (attention transfer, relational, contrastive). The
/// <see cref="FeatureDistiller"/> weights, sums and logs terms by <see cref="Name"/>. A term with trainable parameters
/// of its own is also an <c>nn.Module</c>; the distiller registers it under its name.
/// </summary>
public interface ILossTerm
{
    /// <summary>Name in logs and CSV columns (e.g. <c>ce</c>, <c>kd</c>, <c>repr</c>).</summary>
    string Name { get; }

    /// <summary>Weight of the term; 0 skips its computation and logs 0.</summary>
    double Weight { get; }

    /// <summary>True when the term reads the teacher's features (the step can skip the teacher otherwise).</summary>
    bool NeedsTeacher { get; }

    /// <summary>The unweighted value (a scalar with the graph of the student's features).</summary>
    Tensor Compute(LossInputs inputs);
}
