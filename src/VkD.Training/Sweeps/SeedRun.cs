using VkD.Training.Options;
using VkD.Training.Sessions;

namespace VkD.Training.Sweeps;

/// <summary>One seed of a sweep, as handed to an <see cref="ISeedRunner"/>.</summary>
/// <param name="Kind">The command to run.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Options">The seed's options: its seed, its folder as output, <c>--resume auto</c>.</param>
/// <param name="Resuming">True when the folder holds a checkpoint of an interrupted run of this seed.</param>
/// <param name="OptionsFile">The same options written as a config file (what a child process is started with).</param>
/// <param name="LogFile">Where a child process's console output goes.</param>
public sealed record SeedRun(SessionKind Kind, int Seed, TrainingOptions Options, bool Resuming, string OptionsFile, string LogFile)
{
    /// <summary>The seed's output folder.</summary>
    public string Folder => Options.OutputDir;
}
