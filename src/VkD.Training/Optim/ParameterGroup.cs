using TorchSharp.Modules;

namespace VkD.Training.Optim;

/// <summary>One parameter group of an optimizer: its parameters (with their names, for logs and
/// checkpoints) and its weight decay; the learning rate is shared and set per iteration by the schedule.</summary>
/// <param name="Name">Group label (e.g. "decay", "no_decay").</param>
/// <param name="Parameters">The group's parameters.</param>
/// <param name="ParameterNames">Names of <paramref name="Parameters"/>, same order.</param>
/// <param name="WeightDecay">Decoupled weight decay of the group.</param>
public sealed record ParameterGroup(string Name, IReadOnlyList<Parameter> Parameters, IReadOnlyList<string> ParameterNames, double WeightDecay);
