namespace VkD.Training.Loop;

/// <summary>Thrown when a step's loss is NaN or infinite. Training stops before the optimiser touches the weights,
/// so the last checkpoint on disk stays the last good state.</summary>
public sealed class NonFiniteLossException : Exception
{
    /// <summary>Creates the exception for the step at <paramref name="epoch"/>/<paramref name="iteration"/>.</summary>
    public NonFiniteLossException(int epoch, int iteration, long globalStep, double ce, double kd, double repr, double total)
        : base($"Loss is not finite at epoch {epoch}, iteration {iteration} (global step {globalStep}): " +
               $"ce={ce}, kd={kd}, repr={repr}, total={total}. Training stopped; the last checkpoint on disk is intact. " +
               "Lower --lr, set --clip-grad, or check the data and teacher.")
    {
        Epoch = epoch;
        Iteration = iteration;
        GlobalStep = globalStep;
        Components = new Dictionary<string, double> { ["ce"] = ce, ["kd"] = kd, ["repr"] = repr, ["total"] = total };
    }

    /// <summary>Epoch of the failing step.</summary>
    public int Epoch { get; }

    /// <summary>Iteration within the epoch.</summary>
    public int Iteration { get; }

    /// <summary>Global step.</summary>
    public long GlobalStep { get; }

    /// <summary>The loss components of the failing step.</summary>
    public IReadOnlyDictionary<string, double> Components { get; }
}
