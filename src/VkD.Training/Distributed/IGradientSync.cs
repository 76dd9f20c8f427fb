using TorchSharp.Modules;

namespace VkD.Training.Distributed;

/// <summary>
/// The seam where data parallelism plugs in: called after backward and before clipping and the optimiser step, it
/// must leave every replica with the same (averaged) gradients. Rank and world size drive the loader's sharding and
/// rank-0-only output.
/// </summary>
public interface IGradientSync
{
    /// <summary>This process's rank, 0-based.</summary>
    int Rank { get; }

    /// <summary>Number of processes.</summary>
    int WorldSize { get; }

    /// <summary>True on the process that writes logs, checkpoints and plots.</summary>
    bool IsMain => Rank == 0;

    /// <summary>Averages the gradients of <paramref name="parameters"/> over all processes, in place.</summary>
    void AllReduceGradients(IReadOnlyList<Parameter> parameters);

    /// <summary>Averages a scalar (e.g. an accuracy) over all processes.</summary>
    double AllReduceMean(double value);
}

/// <summary>The single-process case: nothing to synchronise.</summary>
public sealed class SingleProcessGradientSync : IGradientSync
{
    /// <summary>Shared instance.</summary>
    public static SingleProcessGradientSync Instance { get; } = new();

    /// <inheritdoc />
    public int Rank => 0;

    /// <inheritdoc />
    public int WorldSize => 1;

    /// <inheritdoc />
    public void AllReduceGradients(IReadOnlyList<Parameter> parameters)
    {
    }

    /// <inheritdoc />
    public double AllReduceMean(double value) => value;
}
