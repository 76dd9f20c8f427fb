namespace VkD.Training.Distributed;

/// <summary>The replicas' weights differ after a step (debug check): every rank throws it at the same step.</summary>
public sealed class ReplicaMismatchException : Exception
{
    /// <summary>Creates the exception for <paramref name="step"/>, naming the ranks that differ from rank 0.</summary>
    public ReplicaMismatchException(long step, IReadOnlyList<int> ranks, int worldSize)
        : base($"The replicas' weights differ after global step {step}: rank(s) {string.Join(", ", ranks)} of {worldSize} hold weights that " +
               "differ from rank 0's (bit-exact checksum). Gradients were not identical on every rank (non-deterministic kernels, a " +
               "rank-dependent parameter, or a transport error). Training stopped.")
    {
        Step = step;
        Ranks = ranks;
    }

    /// <summary>The global step after which the weights differed.</summary>
    public long Step { get; }

    /// <summary>The ranks whose weights differ from rank 0's.</summary>
    public IReadOnlyList<int> Ranks { get; }
}
