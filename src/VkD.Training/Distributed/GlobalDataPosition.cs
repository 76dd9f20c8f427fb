using System.Globalization;
using VkD.Interop.Checkpoints;

namespace VkD.Training.Distributed;

/// <summary>
/// A checkpoint's position inside an epoch counted in samples of the whole job (steps × ranks × per-rank batch), so
/// a run can resume on a different number of ranks: with the same effective batch the step index is unchanged; with
/// another effective batch the position is converted when it falls on a step boundary of the new run.
/// </summary>
public static class GlobalDataPosition
{
    /// <summary>Samples per step (<c>batch_size × world_size</c>) the checkpoint at <paramref name="path"/> was written
    /// with, or null when it does not record them.</summary>
    public static long? SamplesPerStep(string path)
    {
        using var checkpoint = CheckpointReader.Read(path);
        var e = checkpoint.Entries;
        if (e.GetValueOrDefault("batch_size") is not (long or int) || e.GetValueOrDefault("world_size") is not (long or int))
        {
            return null;
        }
        return Convert.ToInt64(e["batch_size"], CultureInfo.InvariantCulture) * Convert.ToInt64(e["world_size"], CultureInfo.InvariantCulture);
    }

    /// <summary>The step within <paramref name="epoch"/> at which a run with <paramref name="samplesPerStep"/> samples
    /// per step continues a checkpoint that stopped after <paramref name="nextBatch"/> steps of
    /// <paramref name="savedSamplesPerStep"/>.</summary>
    /// <exception cref="InvalidDataException">The position is not a whole number of the new run's steps.</exception>
    public static int ToStep(int nextBatch, long savedSamplesPerStep, long samplesPerStep, int epoch, string path)
    {
        if (savedSamplesPerStep <= 0 || samplesPerStep <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(samplesPerStep), "Samples per step must be positive.");
        }
        if (savedSamplesPerStep == samplesPerStep || nextBatch == 0)
        {
            return nextBatch;
        }
        var samples = nextBatch * savedSamplesPerStep;
        if (samples % samplesPerStep != 0)
        {
            throw new InvalidDataException($"--resume: '{path}' stopped {samples} samples into epoch {epoch} ({nextBatch} steps of {savedSamplesPerStep} " +
                $"samples), which is not a whole number of this run's steps of {samplesPerStep} samples (ranks x --batch-size). Resume with an " +
                $"effective batch that divides {samples}, or from an end-of-epoch checkpoint.");
        }
        return checked((int)(samples / samplesPerStep));
    }
}
