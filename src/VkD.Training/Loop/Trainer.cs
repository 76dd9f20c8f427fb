using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Training.Checkpoints;
using VkD.Training.Distributed;
using VkD.Training.Evaluation;
using VkD.Training.Logging;
using VkD.Training.Optim;
using VkD.Training.Options;
using static TorchSharp.torch;

namespace VkD.Training.Loop;

/// <summary>Everything a training run needs, built by the caller (the CLI or a test).</summary>
public sealed class TrainerSetup
{
    /// <summary>The model being trained.</summary>
    public required ClassifierModel Student { get; init; }

    /// <summary>Zoo name of the student (recorded in checkpoints and the summary).</summary>
    public required string StudentName { get; init; }

    /// <summary>Builds a fresh instance of the student's architecture, for the EMA copy (needed with --student-ema).</summary>
    public Func<ClassifierModel>? CreateEmaModel { get; init; }

    /// <summary>The loss (and teacher).</summary>
    public required TrainingObjective Objective { get; init; }

    /// <summary>Training batches.</summary>
    public required IBatchSource Train { get; init; }

    /// <summary>Evaluation batches (null: no evaluation).</summary>
    public IBatchSource? Eval { get; init; }

    /// <summary>Mixup/CutMix (null: off).</summary>
    public IBatchMixer? Mixer { get; init; }

    /// <summary>Resolved options.</summary>
    public required TrainingOptions Options { get; init; }

    /// <summary>Gradient synchronisation (single process by default).</summary>
    public IGradientSync Sync { get; init; } = SingleProcessGradientSync.Instance;

    /// <summary>Progress receiver.</summary>
    public ITrainingObserver Observer { get; init; } = NullTrainingObserver.Instance;

    /// <summary>Test hook: stop abruptly (as a crash would: no end-of-run files) after this many steps of this process.</summary>
    public long? StopAfterSteps { get; init; }

    /// <summary>Extra facts for the summary and checkpoints (command, teacher name, dataset...).</summary>
    public IReadOnlyDictionary<string, object?> Metadata { get; init; } = new Dictionary<string, object?>();
}

/// <summary>Outcome of <see cref="Trainer.Run"/>.</summary>
/// <param name="Completed">False when the run was stopped by the test hook.</param>
/// <param name="EpochsDone">Epochs completed.</param>
/// <param name="Final">Last evaluation of the student.</param>
/// <param name="Best">Best evaluation of the student (by top-1).</param>
/// <param name="BestEpoch">Epoch of <paramref name="Best"/>, or -1.</param>
/// <param name="FinalEma">Last evaluation of the EMA student, if any.</param>
/// <param name="Seconds">Wall time of this process's part of the run.</param>
/// <param name="Steps">Optimiser steps done by this process.</param>
public sealed record TrainingResult(bool Completed, int EpochsDone, EvalMetrics? Final, EvalMetrics? Best, int BestEpoch, EvalMetrics? FinalEma, double Seconds, long Steps);

/// <summary>
/// The training loop shared by <c>vkd train</c> and <c>vkd distill</c>. One step: batch → mixup → teacher (frozen) →
/// student → loss → NaN check → backward → gradient sync → clip → AdamW (lr from the per-iteration cosine) → EMA →
/// logs → (mid-epoch checkpoint). Each epoch ends with evaluation, the epoch log, and the latest / numbered / best
/// checkpoints. Every random draw of step t is seeded from (seed, t), and batches come from the loader by
/// (epoch, position), so resuming from any checkpoint continues bit-exactly.
/// </summary>
public sealed class Trainer
{
    private readonly TrainerSetup _s;

    /// <summary>Creates the trainer.</summary>
    public Trainer(TrainerSetup setup)
    {
        _s = setup;
    }

    /// <summary>Seed of step <paramref name="step"/> (global iteration) for a run seeded with <paramref name="seed"/>.</summary>
    public static long StepSeed(long seed, long step) => unchecked((seed * 1_000_003L) + step + 1) & long.MaxValue;

    /// <summary>Runs (or resumes) training to the configured number of epochs.</summary>
    public TrainingResult Run()
    {
        var o = _s.Options;
        var student = _s.Student;
        var main = _s.Sync.IsMain;
        var ipe = _s.Train.BatchesPerEpoch;
        if (ipe <= 0)
        {
            throw new InvalidOperationException($"The training set has {_s.Train.Count} images, fewer than one batch of {o.BatchSize}.");
        }
        var totalSteps = (long)ipe * o.Epochs;
        var schedule = CosineLrScheduler.FromEpochs(o.Lr, o.MinLr, o.Epochs, o.WarmupEpochs, o.WarmupLr, ipe);
        var momentum = new EmaMomentumSchedule(o.StudentEmaDecay, totalSteps);

        var named = student.named_parameters().Select(p => (p.name, p.parameter))
            .Concat(_s.Objective.NamedParameters());
        var exempt = o.ReleasedProjectorDecay ? null : _s.Objective.WeightDecayExempt();
        using var optimizer = new AdamW(WeightDecayGroups.Build(named, o.WeightDecay, exempt), o.Lr, eps: o.OptEps);
        using var ema = o.StudentEma
            ? new ModelEma((_s.CreateEmaModel ?? throw new InvalidOperationException("--student-ema needs CreateEmaModel."))(), student)
            : null;

        var state = new RunState();
        var resumePath = ResolveResume(o);
        if (resumePath is not null)
        {
            state = TrainingCheckpoint.Restore(resumePath, student, _s.Objective.Loss, ema, optimizer);
            _s.Observer.OnMessage($"Resumed from {resumePath}: epoch {state.NextEpoch}, iteration {state.NextBatch}.");
        }

        var outDir = main && o.OutputDir.Length > 0 ? o.OutputDir : null;
        CsvLog? iterLog = null, epochLog = null;
        if (outDir is not null)
        {
            Directory.CreateDirectory(outDir);
            var startStep = (long)state.NextEpoch * ipe + state.NextBatch;
            iterLog = CsvLog.Open(Path.Combine(outDir, RunFiles.IterationsCsv), RunFiles.IterationColumns,
                resumePath is null ? null : row => long.Parse(row[0]) * ipe + long.Parse(row[1]) < startStep);
            epochLog = CsvLog.Open(Path.Combine(outDir, RunFiles.EpochsCsv), RunFiles.EpochColumns,
                resumePath is null ? null : row => int.Parse(row[0]) < state.NextEpoch);
        }

        var watch = Stopwatch.StartNew();
        long stepsThisRun = 0;
        EvalMetrics? final = state.LastEval, finalEma = null;
        var parameters = optimizer.Parameters;
        _s.Observer.OnStart(o.Epochs, ipe, state.NextEpoch, state.NextBatch);
        try
        {
            for (var epoch = state.NextEpoch; epoch < o.Epochs; epoch++)
            {
                var epochWatch = Stopwatch.StartNew();
                _s.Observer.OnEpochStart(epoch);
                student.train();
                _s.Objective.Train(true);
                var startBatch = epoch == state.NextEpoch ? state.NextBatch : 0;
                var iteration = startBatch;
                foreach (var batch in _s.Train.GetEpoch(epoch, startBatch))
                {
                    var step = (long)epoch * ipe + iteration;
                    double ce, kd, repr, total, lr;
                    int images;
                    using (batch)
                    using (var scope = NewDisposeScope())
                    {
                        random.manual_seed(StepSeed(o.Seed, step));
                        images = (int)batch.Images.shape[0];
                        var x = batch.Images;
                        Tensor targets = batch.Labels;
                        if (_s.Mixer is not null)
                        {
                            (x, targets) = _s.Mixer.Apply(batch.Images, batch.Labels, StepSeed(o.Seed ^ 0x5eed, step));
                        }
                        var parts = _s.Objective.Compute(student, x, targets);
                        ce = parts.Ce.ToDouble();
                        kd = parts.Kd.ToDouble();
                        repr = parts.Repr.ToDouble();
                        total = parts.Total.ToDouble();
                        if (!double.IsFinite(total) || !double.IsFinite(ce) || !double.IsFinite(kd) || !double.IsFinite(repr))
                        {
                            throw new NonFiniteLossException(epoch, iteration, step, ce, kd, repr, total);
                        }
                        lr = schedule.LearningRate(step);
                        optimizer.LearningRate = lr;
                        optimizer.ZeroGrad();
                        parts.Total.backward();
                        _s.Sync.AllReduceGradients(parameters);
                        if (o.ClipGrad > 0)
                        {
                            nn.utils.clip_grad_norm_(parameters, o.ClipGrad);
                        }
                        optimizer.Step();
                        ema?.Update(momentum.Momentum(step));
                    }
                    iterLog?.Append(epoch, iteration, lr, ce, kd, repr, total);
                    state.LastLoss = total;
                    state.EpochLossSum += total;
                    state.EpochLossCount++;
                    iteration++;
                    stepsThisRun++;
                    _s.Observer.OnIteration(new IterationReport(epoch, iteration - 1, ipe, lr, ce, kd, repr, total, images));

                    if (outDir is not null && o.SaveEveryIters > 0 && iteration % o.SaveEveryIters == 0 && iteration < ipe)
                    {
                        state.NextEpoch = epoch;
                        state.NextBatch = iteration;
                        SaveCheckpoint(outDir, RunFiles.LatestCheckpoint, state, student, ema, optimizer, epoch, lr);
                    }
                    if (_s.StopAfterSteps is long stop && stepsThisRun >= stop)
                    {
                        iterLog?.Dispose();
                        epochLog?.Dispose();
                        iterLog = epochLog = null;
                        return new TrainingResult(false, epoch, final, state.Best, state.BestEpoch, finalEma, watch.Elapsed.TotalSeconds, stepsThisRun);
                    }
                }

                // ---- end of epoch: evaluate, log, checkpoint ----
                EvalMetrics? eval = null, emaEval = null;
                var last = epoch == o.Epochs - 1;
                if (_s.Eval is not null && (last || (o.EvalEvery > 0 && (epoch + 1) % o.EvalEvery == 0)))
                {
                    _s.Observer.OnEvaluating(epoch);
                    eval = Evaluator.Evaluate(student, _s.Eval);
                    if (ema is not null)
                    {
                        emaEval = Evaluator.Evaluate(ema.Model, _s.Eval);
                    }
                    final = eval;
                    finalEma = emaEval;
                    state.LastEval = eval;
                }
                var trainLoss = state.EpochLossCount > 0 ? state.EpochLossSum / state.EpochLossCount : double.NaN;
                state.EpochLossSum = 0;
                state.EpochLossCount = 0;
                var improved = eval is not null && (state.Best is null || eval.Acc1 > state.Best.Acc1);
                if (improved)
                {
                    state.Best = eval;
                    state.BestEpoch = epoch;
                }
                state.NextEpoch = epoch + 1;
                state.NextBatch = 0;
                var lrNow = schedule.LearningRate(Math.Min((long)(epoch + 1) * ipe, totalSteps - 1));
                epochLog?.Append(epoch, trainLoss, eval?.Acc1, eval?.Acc5, eval?.Loss, emaEval?.Acc1, emaEval?.Acc5, emaEval?.Loss,
                    lrNow, epochWatch.Elapsed.TotalSeconds);
                if (outDir is not null)
                {
                    SaveCheckpoint(outDir, RunFiles.LatestCheckpoint, state, student, ema, optimizer, epoch, lrNow);
                    if (o.SaveEvery > 0 && (epoch + 1) % o.SaveEvery == 0)
                    {
                        AtomicFile.Copy(Path.Combine(outDir, RunFiles.LatestCheckpoint), Path.Combine(outDir, RunFiles.EpochCheckpoint(epoch + 1)));
                    }
                    if (improved)
                    {
                        AtomicFile.Copy(Path.Combine(outDir, RunFiles.LatestCheckpoint), Path.Combine(outDir, RunFiles.BestCheckpoint));
                    }
                }
                _s.Observer.OnEpochEnd(new EpochReport(epoch, trainLoss, eval, emaEval, epochWatch.Elapsed.TotalSeconds));
            }
        }
        finally
        {
            iterLog?.Dispose();
            epochLog?.Dispose();
        }

        var result = new TrainingResult(true, o.Epochs, final, state.Best, state.BestEpoch, finalEma, watch.Elapsed.TotalSeconds, stepsThisRun);
        if (outDir is not null)
        {
            // Weights only, as a plain PyTorch state dict: what --teacher-path, vkd eval and torch users want.
            CheckpointWriter.WriteStateDict(Path.Combine(outDir, RunFiles.FinalWeights), student.state_dict());
            WriteSummary(outDir, result);
            try
            {
                TrainingPlots.Write(outDir);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Plots are a convenience; a rendering failure must not fail a finished run.
                _s.Observer.OnMessage($"Plots were not written: {e.Message}");
            }
        }
        return result;
    }

    private string? ResolveResume(TrainingOptions o)
    {
        if (string.IsNullOrEmpty(o.Resume))
        {
            return null;
        }
        if (o.Resume.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            var latest = Path.Combine(o.OutputDir, RunFiles.LatestCheckpoint);
            return File.Exists(latest) ? latest : null;
        }
        if (!File.Exists(o.Resume))
        {
            throw new FileNotFoundException($"--resume: checkpoint '{o.Resume}' does not exist.", o.Resume);
        }
        return o.Resume;
    }

    private void SaveCheckpoint(string outDir, string name, RunState state, ClassifierModel student, ModelEma? ema, AdamW optimizer, int epoch, double lr)
    {
        var o = _s.Options;
        var meta = new Dictionary<string, object?>(_s.Metadata)
        {
            ["model"] = _s.StudentName,
            ["batch_size"] = (long)o.BatchSize,
            ["world_size"] = (long)_s.Sync.WorldSize,
            ["lr"] = lr,
            ["seed"] = (long)o.Seed,
            ["args"] = ConfigFile.ToFlags(o).ToDictionary(kv => kv.Key, kv => kv.Value),
        };
        TrainingCheckpoint.Save(Path.Combine(outDir, name), state, student, _s.Objective.Loss, ema, optimizer, epoch, meta);
    }

    private void WriteSummary(string outDir, TrainingResult r)
    {
        static object? M(EvalMetrics? m) => m is null ? null : new { acc1 = m.Acc1, acc5 = m.Acc5, loss = m.Loss, images = m.Count };
        var summary = new Dictionary<string, object?>(_s.Metadata)
        {
            ["student"] = _s.StudentName,
            ["epochs"] = r.EpochsDone,
            ["iterations_per_epoch"] = _s.Train.BatchesPerEpoch,
            ["train_images"] = _s.Train.Count,
            ["eval_images"] = _s.Eval?.Count,
            ["seconds"] = r.Seconds,
            ["final"] = M(r.Final),
            ["best"] = M(r.Best),
            ["best_epoch"] = r.BestEpoch,
            ["final_ema"] = M(r.FinalEma),
            ["options"] = ConfigFile.ToFlags(_s.Options),
        };
        var json = JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteAllText(Path.Combine(outDir, RunFiles.SummaryJson), json);
    }
}

/// <summary>Position and bookkeeping of a run, saved in checkpoints.</summary>
public sealed class RunState
{
    /// <summary>Epoch to run next.</summary>
    public int NextEpoch { get; set; }

    /// <summary>Batch position within <see cref="NextEpoch"/> to continue from.</summary>
    public int NextBatch { get; set; }

    /// <summary>Best evaluation so far.</summary>
    public EvalMetrics? Best { get; set; }

    /// <summary>Epoch of <see cref="Best"/>.</summary>
    public int BestEpoch { get; set; } = -1;

    /// <summary>Most recent evaluation.</summary>
    public EvalMetrics? LastEval { get; set; }

    /// <summary>Loss of the last step.</summary>
    public double LastLoss { get; set; } = double.NaN;

    /// <summary>Sum of step losses in the current epoch (kept across a mid-epoch resume for the epoch mean).</summary>
    public double EpochLossSum { get; set; }

    /// <summary>Steps summed in <see cref="EpochLossSum"/>.</summary>
    public long EpochLossCount { get; set; }
}
