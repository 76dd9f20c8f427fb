using System.Globalization;

namespace VkD.Training.Loop;

/// <summary>Thrown when a step's loss is NaN or infinite. Training stops before the optimiser touches the weights,
/// so the last checkpoint on disk stays the last good state.</summary>
public sealed class NonFiniteLossException : Exception
{
    /// <summary>Creates the exception for the step at <paramref name="epoch"/>/<paramref name="iteration"/> with the
    /// step's named loss terms (and <c>total</c>); <paramref name="cause"/> says what else went wrong (an update that
    /// overflowed the weights although the loss was finite).</summary>
    public NonFiniteLossException(int epoch, int iteration, long globalStep, IReadOnlyDictionary<string, double> components, string? cause = null)
        : base($"{(cause is null ? "Loss is not finite" : "Training diverged")} at epoch {epoch}, iteration {iteration} (global step {globalStep}): " +
               $"{string.Join(", ", components.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value}")))}" +
               $"{Culprits(components)}{(cause is null ? "" : "; " + cause)}. Training stopped; every checkpoint on disk holds a finite state " +
               "(none is written with NaN or inf). Lower --lr, set --clip-grad, or check the data and teacher, and resume; if resuming from " +
               "latest.pth.tar diverges again at once, its weights were already ruined before they overflowed: resume from an earlier ep{N}.pth.tar.")
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
