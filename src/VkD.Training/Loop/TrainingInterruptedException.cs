namespace VkD.Training.Loop;

/// <summary>Thrown when a run was asked to stop (SIGINT, SIGTERM, a cancelled token): it stopped at a step boundary and
/// saved its position, so <c>--resume auto</c> continues exactly where it stopped.</summary>
public sealed class TrainingInterruptedException : Exception
{
    /// <summary>Creates the exception for a stop before epoch <paramref name="epoch"/>, iteration <paramref name="iteration"/>.</summary>
    public TrainingInterruptedException(int epoch, int iteration, string? checkpoint)
        : base(checkpoint is null
            ? $"Training stopped on request before epoch {epoch}, iteration {iteration} (no output folder, so nothing was saved)."
            : $"Training stopped on request before epoch {epoch}, iteration {iteration}; the position is saved in {checkpoint}: rerun with --resume auto to continue.")
    {
        Epoch = epoch;
        Iteration = iteration;
        Checkpoint = checkpoint;
    }

    /// <summary>Epoch the resumed run starts in.</summary>
    public int Epoch { get; }

    /// <summary>Iteration the resumed run starts at.</summary>
    public int Iteration { get; }

    /// <summary>The checkpoint written, or null without an output folder.</summary>
    public string? Checkpoint { get; }
}
