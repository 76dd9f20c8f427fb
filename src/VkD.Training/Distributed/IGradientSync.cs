using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Training.Distributed;

/// <summary>
/// The seam where data parallelism plugs in: called after backward and before clipping and the optimiser step, it
/// must leave every replica with the same (averaged) gradients. Rank and world size drive the loader's sharding and
/// rank-0-only output. The members with default bodies are the single-process behaviour (nothing to exchange).
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

    /// <summary>Sums <paramref name="values"/> over all processes, in place (step losses, flags).</summary>
    void AllReduceSum(Span<double> values)
    {
    }

    /// <summary>Sums <paramref name="values"/> over all processes, in place and exactly (counts).</summary>
    void AllReduceSum(Span<long> values)
    {
    }

    /// <summary>Every rank's <paramref name="mine"/>, indexed by rank, on every rank (evaluation results gathered for
    /// rank 0's report).</summary>
    byte[][] AllGather(ReadOnlySpan<byte> mine) => [mine.ToArray()];

    /// <summary>Overwrites <paramref name="tensors"/> (CPU, contiguous) on every rank with rank 0's values.</summary>
    void BroadcastFromMain(IReadOnlyList<Tensor> tensors)
    {
    }

    /// <summary>Returns when every process has called it.</summary>
    void Barrier()
    {
    }

    /// <summary>Called after every optimiser step with the parameters it updated; a debug implementation compares
    /// the replicas' weights there and throws when they differ.</summary>
    void AfterStep(long step, IReadOnlyList<Parameter> parameters)
    {
    }
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
