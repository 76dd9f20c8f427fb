namespace VkD.Training.Checkpoints;

/// <summary>Thrown instead of saving a checkpoint whose weights, buffers or optimiser state hold NaN or inf: what is on
/// disk stays the last finite state, so resuming from it (with a lower learning rate) can work.</summary>
public sealed class NonFiniteStateException(string message) : Exception(message);
