using System.Globalization;

namespace VkD.Training.Loop;

/// <summary>Thrown when a step's loss is NaN or infinite. Training stops before the optimiser touches the weights,
/// so the last checkpoint on disk stays the last good state.</summary>
public sealed class NonFiniteLossException : Exception
{
    /// <summary>Creates the exception for the step at <paramref name="epoch"/>/<paramref name="iteration"/> with the
    /// step's named loss terms (and <c>total</c>).</summary>
    public NonFiniteLossException(int epoch, int iteration, long globalStep, IReadOnlyDictionary<string, double> components)
        : base($"Loss is not finite at epoch {epoch}, iteration {iteration} (global step {globalStep}): " +
               $"{string.Join(", ", components.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value}")))}" +
               $"{Culprits(components)}. Training stopped; the last checkpoint on disk is intact. " +
               "Lower --lr, set --clip-grad, or check the data and teacher.")
    {
        Epoch = epoch;
        Iteration = iteration;
        GlobalStep = globalStep;
        Components = components;
    }

    /// <summary>Epoch of the failing step.</summary>
    public int Epoch { get; }

    /// <summary>Iteration within the epoch.</summary>
    public int Iteration { get; }

    /// <summary>Global step.</summary>
    public long GlobalStep { get; }

    /// <summary>The loss components of the failing step.</summary>
    public IReadOnlyDictionary<string, double> Components { get; }

    private static string Culprits(IReadOnlyDictionary<string, double> components)
    {
        var bad = components.Where(kv => kv.Key != "total" && !double.IsFinite(kv.Value)).Select(kv => kv.Key).ToList();
        return bad.Count == 0 ? "" : $" (not finite: {string.Join(", ", bad)})";
    }
}
