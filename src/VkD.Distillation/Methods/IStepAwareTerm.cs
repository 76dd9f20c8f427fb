using VkD.Distillation.Distiller;

namespace VkD.Distillation.Methods;

/// <summary>Where a training step is: what a term whose value depends on more than the step's features reads.</summary>
/// <param name="Epoch">0-based epoch of the step (DKD's warm-up).</param>
/// <param name="SampleIndices">Dataset index of every sample of the batch, in batch order (CRD's memory bank).</param>
public sealed record DistillationStep(int Epoch, IReadOnlyList<int> SampleIndices);

/// <summary>
/// A loss term that must be told where the step is before it is computed: the training task (through the session)
/// calls <see cref="BeginStep"/> with the epoch and the batch's dataset indices, then the distiller computes the term.
/// </summary>
public interface IStepAwareTerm : ILossTerm
{
    /// <summary>Records the step that the next <see cref="ILossTerm.Compute"/> belongs to.</summary>
    void BeginStep(DistillationStep step);
}
