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

    /// <summary>Writes the checkpoint.</summary>
    public static void Save(string path, RunState state, ClassifierModel student, DistillationLoss? loss, ModelEma? ema,
        AdamW optimizer, int epoch, IReadOnlyDictionary<string, object?> metadata)
    {
        var studentDict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, t) in student.state_dict())
        {
            studentDict[k] = t;
        }
        if (loss is not null)
        {
            // DistillationLoss registers its projector as "projector", so its keys already read projector.*.
            foreach (var (k, t) in loss.state_dict())
            {
                studentDict[k] = t;
            }
        }
        Dictionary<string, object?>? emaDict = null;
        if (ema is not null)
        {
            emaDict = ema.Model.state_dict().ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);
        }
        var optimizerState = optimizer.StateDict();
        var entries = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["student"] = studentDict,
            ["student_ema"] = emaDict,
            ["optimizer"] = optimizerState,
            ["epoch"] = (long)epoch,
            ["loss"] = double.IsNaN(state.LastLoss) ? null : state.LastLoss,
            ["next_epoch"] = (long)state.NextEpoch,
            ["next_batch"] = (long)state.NextBatch,
            ["epoch_loss_sum"] = state.EpochLossSum,
            ["epoch_loss_count"] = state.EpochLossCount,
            ["best_epoch"] = (long)state.BestEpoch,
            ["best"] = Metrics(state.Best),
            ["last_eval"] = Metrics(state.LastEval),
            ["format"] = "vkd.net/1",
        };
        foreach (var (k, v) in metadata)
        {
            entries.TryAdd(k, v);
        }
        try
        {
            CheckpointWriter.Write(path, entries);
        }
        finally
        {
            DisposeOptimizerCopies(optimizerState);
        }
    }

    /// <summary>Restores model, projector, EMA and optimizer from <paramref name="path"/> and returns the run position.</summary>
    /// <exception cref="InvalidDataException">The file is not a checkpoint written by this trainer for this setup.</exception>
    public static RunState Restore(string path, ClassifierModel student, DistillationLoss? loss, ModelEma? ema, AdamW optimizer)
    {
        using var checkpoint = CheckpointReader.Read(path);
        var e = checkpoint.Entries;
        if (!e.ContainsKey("next_epoch") || !e.ContainsKey("optimizer"))
        {
            throw new InvalidDataException($"--resume: '{path}' is not a VkD.NET training checkpoint (no next_epoch/optimizer entries); " +
                "use --student-ckpt to initialise weights from it instead.");
        }
        var studentState = checkpoint.StateDictEntry("student");
        LoadStudent(student, studentState, path);
        if (loss is not null)
        {
            var projector = studentState.Where(kv => kv.Key.StartsWith(ProjectorPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            CheckpointLoader.LoadStateDict(loss, projector, strict: true, source: path + " (projector)");
        }
        if (ema is not null)
        {
            if (e.GetValueOrDefault("student_ema") is null)
            {
                throw new InvalidDataException($"--resume: '{path}' has no student_ema but --student-ema is on; resume with the same options.");
            }
            CheckpointLoader.LoadStateDict(ema.Model, checkpoint.StateDictEntry("student_ema"), strict: true, source: path + " (student_ema)");
        }
        if (e["optimizer"] is not IReadOnlyDictionary<string, object?> opt)
        {
            throw new InvalidDataException($"--resume: entry 'optimizer' of '{path}' is not a dictionary.");
        }
        optimizer.LoadStateDict(opt);
        return new RunState
        {
            NextEpoch = (int)Long(e["next_epoch"]),
            NextBatch = (int)Long(e.GetValueOrDefault("next_batch") ?? 0L),
            BestEpoch = (int)Long(e.GetValueOrDefault("best_epoch") ?? -1L),
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
            ExcludePrefixes = [ProjectorPrefix],
        };
        return CheckpointLoader.Load(model, path, options, strict: true);
    }

    private static void LoadStudent(ClassifierModel student, IReadOnlyDictionary<string, Tensor> state, string path)
    {
        var own = state.Where(kv => !kv.Key.StartsWith(ProjectorPrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        CheckpointLoader.LoadStateDict(student, own, strict: true, source: path + " (student)");
    }

    private static Dictionary<string, object?>? Metrics(EvalMetrics? m) => m is null ? null : new Dictionary<string, object?>
    {
        ["acc1"] = m.Acc1,
        ["acc5"] = m.Acc5,
        ["loss"] = m.Loss,
        ["count"] = (long)m.Count,
    };

    private static EvalMetrics? ReadMetrics(object? value) => value is IReadOnlyDictionary<string, object?> d
        ? new EvalMetrics((double)d["acc1"]!, (double)d["acc5"]!, (double)d["loss"]!, (int)Long(d["count"]))
        : null;

    private static long Long(object? value) => Convert.ToInt64(value, CultureInfo.InvariantCulture);

    private static void DisposeOptimizerCopies(Dictionary<string, object?> optimizerState)
    {
        if (optimizerState["state"] is Dictionary<long, object?> state)
        {
            foreach (var s in state.Values.OfType<Dictionary<string, object?>>())
            {
                foreach (var t in s.Values.OfType<Tensor>())
                {
                    t.Dispose();
                }
            }
        }
    }
}
