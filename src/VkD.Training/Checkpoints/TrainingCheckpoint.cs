using System.Globalization;
using TorchSharp;
using VkD.Distillation.Losses;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Training.Evaluation;
using VkD.Training.Loop;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Training.Checkpoints;

/// <summary>
/// The trainer's checkpoint, in the reference's layout so PyTorch users can read it with <c>torch.load</c>:
/// <c>student</c> (the student's state dict with the projector under <c>projector.</c> keys, as the reference's
/// <c>student.projector</c>), <c>student_ema</c> (or None), <c>optimizer</c> (PyTorch AdamW layout), <c>epoch</c>
/// (the epoch the checkpoint was written in), <c>loss</c>, <c>batch_size</c>, <c>world_size</c>, <c>lr</c>; plus what
/// an exact resume needs: <c>next_epoch</c>/<c>next_batch</c> (the position to continue from, mid-epoch included),
/// <c>seed</c> (every step's random state derives from it and the step number), best/last metrics and the epoch's
/// running loss. Written atomically by <see cref="CheckpointWriter"/>.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>Prefix of the projector's keys inside the <c>student</c> entry.</summary>
    public const string ProjectorPrefix = "projector.";

    /// <summary>
    /// Prefixes of everything the distiller adds to the <c>student</c> entry besides the network: the VkD projector and
    /// each method's modules (FitNets' regressor, CRD's heads and memory, SRD's connector, under the method's name).
    /// Loading a run's checkpoint as a student, teacher or export skips them, so the checkpoint of any method loads.
    /// </summary>
    public static IReadOnlyList<string> DistillerPrefixes { get; } =
        [ProjectorPrefix, .. VkD.Distillation.Methods.DistillationMethods.Names.Select(n => n + ".")];

    /// <summary>Writes the checkpoint of a run at <paramref name="state"/>.</summary>
    /// <param name="path">Destination (written atomically).</param>
    /// <param name="state">Run position and bookkeeping.</param>
    /// <param name="parts">Model entries (<c>student</c> with its projectors); a part with no modules is written as None.</param>
    /// <param name="optimizers">Optimisers, each under its entry.</param>
    /// <param name="epoch">The epoch the checkpoint is written in.</param>
    /// <param name="metadata">Extra entries (model name, batch size, options...).</param>
    public static void Save(string path, RunState state, IReadOnlyList<CheckpointPart> parts, IReadOnlyList<TaskOptimizer> optimizers,
        int epoch, IReadOnlyDictionary<string, object?> metadata)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(optimizers);
        ArgumentNullException.ThrowIfNull(metadata);
        var entries = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var part in parts)
        {
            if (part.Modules.Count == 0)
            {
                entries[part.Entry] = null;
                continue;
            }
            var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var module in part.Modules)
            {
                if (VkD.Models.Layers.BatchNormFolding.IsFolded(module))
                {
                    // Folded convs hold the BatchNorm statistics as well: loaded into an unfolded model they would
                    // apply them twice. Only frozen teachers are folded, and they are never saved.
                    throw new InvalidOperationException($"Checkpoint entry '{part.Entry}': its model's BatchNorms were folded into its convolutions (an inference-only teacher) and cannot be saved.");
                }
                foreach (var (k, t) in module.state_dict())
                {
                    if (!dict.TryAdd(k, t))
                    {
                        throw new InvalidOperationException($"Checkpoint entry '{part.Entry}': key '{k}' is held by two of its modules.");
                    }
                }
            }
            entries[part.Entry] = dict;
        }
        var optimizerStates = new List<Dictionary<string, object?>>();
        try
        {
            foreach (var o in optimizers)
            {
                var st = o.Optimizer.StateDict();
                optimizerStates.Add(st);
                entries[o.Entry] = st;
            }
            entries["epoch"] = (long)epoch;
            entries["loss"] = double.IsNaN(state.LastLoss) ? null : state.LastLoss;
            entries["next_epoch"] = (long)state.NextEpoch;
            entries["next_batch"] = (long)state.NextBatch;
            entries["epoch_loss_sum"] = state.EpochLossSum;
            entries["epoch_loss_count"] = state.EpochLossCount;
            entries["best_epoch"] = (long)state.BestEpoch;
            entries["best"] = Metrics(state.Best);
            entries["last_eval"] = Metrics(state.LastEval);
            entries["format"] = "vkd.net/1";
            foreach (var (k, v) in metadata)
            {
                entries.TryAdd(k, v);
            }
            if (FindNonFinite(entries, "") is string bad)
            {
                throw new NonFiniteStateException(
                    $"The training state became non-finite ({bad} holds NaN or inf) at epoch {epoch}; '{path}' was not written, so the " +
                    "checkpoints on disk hold the last finite state. Resume from them with a lower --lr or with --clip-grad.");
            }
            CheckpointWriter.Write(path, entries);
        }
        finally
        {
            foreach (var st in optimizerStates)
            {
                ITrainingOptimizer.DisposeStateDict(st);
            }
        }
    }

    /// <summary>Restores every part and optimiser from <paramref name="path"/> and returns the run position.</summary>
    /// <exception cref="InvalidDataException">The file is not a checkpoint written by this trainer for this setup; the
    /// message names the entry or key.</exception>
    public static RunState Restore(string path, IReadOnlyList<CheckpointPart> parts, IReadOnlyList<TaskOptimizer> optimizers)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(optimizers);
        using var checkpoint = CheckpointReader.Read(path);
        var e = checkpoint.Entries;
        if (!e.ContainsKey("next_epoch") || optimizers.Any(o => !e.ContainsKey(o.Entry)))
        {
            throw new InvalidDataException($"--resume: '{path}' is not a VkD.NET training checkpoint of this task (no next_epoch/" +
                $"{string.Join("/", optimizers.Select(o => o.Entry))} entries); use --student-ckpt to initialise weights from it instead.");
        }
        foreach (var part in parts.Where(p => p.Modules.Count > 0))
        {
            if (e.GetValueOrDefault(part.Entry) is null)
            {
                throw new InvalidDataException($"--resume: '{path}' has no {part.Entry} entry (it is None or absent), but this run needs it; " +
                    $"resume with the options the checkpoint was written with{(part.Entry.EndsWith("_ema", StringComparison.Ordinal) ? " (--student-ema)" : "")}.");
            }
            var stored = checkpoint.StateDictEntry(part.Entry);
            var used = new HashSet<string>(StringComparer.Ordinal);
            foreach (var module in part.Modules)
            {
                var own = module.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
                var mine = stored.Where(kv => own.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
                used.UnionWith(mine.Keys);
                CheckpointLoader.LoadStateDict(module, mine, strict: true, source: $"{path} ({part.Entry})");
            }
            var extra = stored.Keys.Where(k => !used.Contains(k)).ToList();
            if (extra.Count > 0)
            {
                throw new InvalidDataException($"--resume: entry '{part.Entry}' of '{path}' has keys this run does not have: " +
                    $"{string.Join(", ", extra.Take(8))}{(extra.Count > 8 ? ", ..." : "")}; resume with the options the checkpoint was written with.");
            }
        }
        foreach (var o in optimizers)
        {
            if (e[o.Entry] is not IReadOnlyDictionary<string, object?> opt)
            {
                throw new InvalidDataException($"--resume: entry '{o.Entry}' of '{path}' is not a dictionary.");
            }
            try
            {
                o.Optimizer.LoadStateDict(opt);
            }
            catch (Exception ex) when (ex is InvalidDataException or InvalidCastException or FormatException or OverflowException or KeyNotFoundException)
            {
                // A crafted or foreign file: say which entry is wrong instead of a cast failure deep in the optimizer.
                throw new InvalidDataException($"--resume: entry '{o.Entry}' of '{path}' is not this run's optimizer state: {ex.Message}", ex);
            }
        }
        return new RunState
        {
            NextEpoch = Position(e, "next_epoch", path, 0),
            NextBatch = Position(e, "next_batch", path, 0),
            BestEpoch = Position(e, "best_epoch", path, -1),
            Best = ReadMetrics(e.GetValueOrDefault("best")),
            LastEval = ReadMetrics(e.GetValueOrDefault("last_eval")),
            LastLoss = e.GetValueOrDefault("loss") is double d ? d : double.NaN,
            EpochLossSum = e.GetValueOrDefault("epoch_loss_sum") is double s ? s : 0,
            EpochLossCount = Long(e.GetValueOrDefault("epoch_loss_count") ?? 0L),
        };
    }

    /// <summary>
    /// Loads student weights for evaluation or initialisation from any checkpoint the reader understands: a VkD.NET or
    /// reference checkpoint (<c>student</c> / <c>student_ema</c> entry, DDP <c>module.</c> prefixes, projector keys
    /// skipped), a timm-style <c>model</c> entry, or a plain state dict. Strict on the student's own keys.
    /// </summary>
    public static LoadReport LoadWeights(ClassifierModel model, string path, bool ema = false)
    {
        var options = new StateDictOptions
        {
            Entry = ema ? "student_ema" : null,
            ExcludePrefixes = DistillerPrefixes,
        };
        return CheckpointLoader.Load(model, path, options, strict: true);
    }

    private static Dictionary<string, object?>? Metrics(MetricSet? m)
    {
        if (m is null)
        {
            return null;
        }
        var d = m.Values.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);
        d["count"] = (long)m.Count;
        return d;
    }

    private static MetricSet? ReadMetrics(object? value)
    {
        if (value is not IReadOnlyDictionary<string, object?> d)
        {
            return null;
        }
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (k, v) in d.Where(kv => kv.Key != "count"))
        {
            values[k] = v is double x ? x : Convert.ToDouble(v, CultureInfo.InvariantCulture);
        }
        return new MetricSet(values, (int)Long(d.GetValueOrDefault("count") ?? 0L));
    }

    // The first floating tensor with a NaN or inf, by its path in the checkpoint (student.layer1.0.bn1.running_var).
    private static string? FindNonFinite(object? value, string path)
    {
        switch (value)
        {
            case Tensor t when t.is_floating_point():
                using (NewDisposeScope())
                {
                    return isfinite(t).all().item<bool>() ? null : path;
                }
            case IDictionary<string, object?> d:
                foreach (var (k, v) in d)
                {
                    if (FindNonFinite(v, path.Length == 0 ? k : path + "." + k) is string bad)
                    {
                        return bad;
                    }
                }
                return null;
            case IDictionary<long, object?> byIndex:
                foreach (var (k, v) in byIndex)
                {
                    if (FindNonFinite(v, path + "." + k.ToString(CultureInfo.InvariantCulture)) is string bad)
                    {
                        return bad;
                    }
                }
                return null;
            case double x when !double.IsFinite(x) && path != "loss":
                return path;
            default:
                return null;
        }
    }

    // A position entry must be an integer in int range (a crafted 1e12 would train forever, -3 or None would restart
    // silently); `min` is the smallest legal value.
    private static int Position(IReadOnlyDictionary<string, object?> e, string key, string path, int min)
    {
        var value = e.GetValueOrDefault(key);
        if (value is not (long or int))
        {
            throw new InvalidDataException($"--resume: entry '{key}' of '{path}' must be an integer, got {(value is null ? "None" : value.GetType().Name + " " + value)}.");
        }
        var v = Convert.ToInt64(value, CultureInfo.InvariantCulture);
        if (v < min || v > int.MaxValue)
        {
            throw new InvalidDataException($"--resume: entry '{key}' of '{path}' is {v}, outside [{min}, {int.MaxValue}].");
        }
        return (int)v;
    }

    private static long Long(object? value) => Convert.ToInt64(value, CultureInfo.InvariantCulture);
}
