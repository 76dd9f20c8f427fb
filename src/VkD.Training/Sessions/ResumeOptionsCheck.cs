using System.Globalization;
using VkD.Interop.Checkpoints;
using VkD.Training.Loop;
using VkD.Training.Options;

namespace VkD.Training.Sessions;

/// <summary>
/// Compares the options of a resumed run with those its checkpoint was written with (its <c>args</c> entry): options
/// that change what the saved weights are (the models, the projector, the method, the input size) are refused, naming
/// each; any other difference (a lower learning rate after a NaN stop, more epochs) is allowed and listed, so nobody
/// resumes a different run by accident.
/// </summary>
public static class ResumeOptionsCheck
{
    /// <summary>Flags whose change makes the checkpoint's weights or state meaningless for the run.</summary>
    public static IReadOnlyList<string> MustMatch { get; } =
        ["student-model", "teacher", "projector", "distill-method", "input-size", "teacher-input-size", "student-taps", "teacher-taps",
            "teacher-cache-draws"];

    // Bookkeeping that legitimately differs between the first run and its resume.
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal) { "resume", "output-dir", "num-workers", "threads" };

    /// <summary>Checks <paramref name="options"/> against the checkpoint <c>--resume</c> names; returns the allowed
    /// differences as "flag: old → new" lines (empty when there is nothing to resume or nothing differs).</summary>
    /// <exception cref="ArgumentException">An option of <see cref="MustMatch"/> differs; the message names each.</exception>
    public static IReadOnlyList<string> Check(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = TrainingLoop<Batch>.ResolveResume(options);
        if (path is null)
        {
            return [];
        }
        IReadOnlyDictionary<string, object?>? saved;
        using (var checkpoint = CheckpointReader.Read(path))
        {
            saved = checkpoint.Entries.GetValueOrDefault("args") as IReadOnlyDictionary<string, object?>;
        }
        if (saved is null)
        {
            // A reference checkpoint stores an argparse Namespace, not our flags: nothing to compare.
            return [];
        }
        var now = ConfigFile.ToFlags(options);
        var refused = new List<string>();
        var allowed = new List<string>();
        foreach (var (flag, value) in now)
        {
            if (Ignored.Contains(flag) || !saved.TryGetValue(flag, out var before))
            {
                continue;
            }
            var (a, b) = (Text(before), Text(value));
            if (a == b || (flag == "input-size" && (a == "0" || b == "0")))
            {
                continue;
            }
            (MustMatch.Contains(flag) ? refused : allowed).Add($"--{flag}: {(a.Length == 0 ? "(none)" : a)} -> {(b.Length == 0 ? "(none)" : b)}");
        }
        if (refused.Count > 0)
        {
            throw new ArgumentException($"--resume: '{path}' was written by a different run ({string.Join("; ", refused)}); " +
                "resume with the options it was written with, or start a new run in another --output_dir.");
        }
        return allowed;
    }

    private static string Text(object? value) => value switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
