namespace VkD.Tests.Training;

/// <summary>Runs that train models use libtorch's global random generator (initialisation, per-step seeds); they run
/// alone, after the parallel tests, so another test drawing from that generator cannot change their results.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    public const string Name = "Training end-to-end";
}
