using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using VkD.Interop.Checkpoints;
using VkD.Training.Checkpoints;
using VkD.Training.Distributed;
using VkD.Training.Logging;
using VkD.Training.Optim;
using VkD.Training.Options;
using static TorchSharp.torch;

namespace VkD.Training.Loop;

/// <summary>Everything one run of the loop needs, built by the caller (a session, a test, a user's program).</summary>
/// <typeparam name="TBatch">The task's batch type.</typeparam>
public sealed class LoopSetup<TBatch> where TBatch : IDisposable
{
    /// <summary>The task: models, loss terms, optimisers, evaluation.</summary>
    public required ITrainingTask<TBatch> Task { get; init; }

    /// <summary>Training batches.</summary>
    public required IBatchSource<TBatch> Train { get; init; }

    /// <summary>Resolved options (epochs, schedule, clipping, EMA, checkpoints, output folder, seed).</summary>
    public required TrainingOptions Options { get; init; }

    /// <summary>Gradient synchronisation (single process by default).</summary>
    public IGradientSync Sync { get; init; } = SingleProcessGradientSync.Instance;

    /// <summary>Progress receiver.</summary>
    public ITrainingObserver Observer { get; init; } = NullTrainingObserver.Instance;

    /// <summary>Test hook: stop abruptly (as a crash would: no end-of-run files) after this many steps of this process.</summary>
    public long? StopAfterSteps { get; init; }

    /// <summary>Asks the run to stop at the next step boundary, save its position and throw
    /// <see cref="TrainingInterruptedException"/> (the CLI cancels it on SIGINT and SIGTERM).</summary>
    public CancellationToken Stop { get; init; }

    /// <summary>Test hook for fault injection: called at each point where a kill would leave files half-done
    /// (<c>checkpoint:pending</c>, <c>checkpoint:numbered</c>, <c>checkpoint:best</c>, <c>checkpoint:latest</c>,
    /// <c>mid-epoch:latest</c>); throwing from it simulates a crash at that moment.</summary>
    public Action<string>? FaultPoint { get; init; }

    /// <summary>Examples in the evaluation set (for the summary), if any.</summary>
    public int? EvalCount { get; init; }

    /// <summary>Extra facts for the summary and checkpoints (command, teacher name, dataset...).</summary>
    public IReadOnlyDictionary<string, object?> Metadata { get; init; } = new Dictionary<string, object?>();

    /// <summary>Turns the metrics a rank measured on its shard of the evaluation set into the whole set's (every rank
    /// calls it); null when every process evaluates the whole set.</summary>
    public Func<MetricSet, MetricSet>? CombineEvaluation { get; init; }

    /// <summary>Where the time of each step's parts is added up (null: not profiled). Checkpoint saves and
    /// evaluation are outside every step.</summary>
    public StepProfile? Profile { get; init; }
}

/// <summary>Outcome of <see cref="TrainingLoop{TBatch}.Run"/>.</summary>
/// <param name="Completed">False when the run was stopped by the test hook.</param>
/// <param name="EpochsDone">Epochs completed.</param>
/// <param name="Final">Last evaluation of the model.</param>
/// <param name="Best">Best evaluation (by the task's best metric).</param>
/// <param name="BestEpoch">Epoch of <paramref name="Best"/>, or -1.</param>
/// <param name="FinalEma">Last evaluation of the EMA copy, if any.</param>
/// <param name="Seconds">Wall time of this process's part of the run.</param>
/// <param name="Steps">Training steps done by this process.</param>
public sealed record LoopResult(bool Completed, int EpochsDone, MetricSet? Final, MetricSet? Best, int BestEpoch, MetricSet? FinalEma, double Seconds, long Steps);

/// <summary>The loop's seeding rule, shared by every task.</summary>
public static class TrainingLoop
{
    /// <summary>Seed of step <paramref name="step"/> (global iteration) for a run seeded with <paramref name="seed"/>.</summary>
    public static long StepSeed(long seed, long step) => unchecked((seed * 1_000_003L) + step + 1) & long.MaxValue;
}

/// <summary>
/// The one training loop. One step: batch → for each of the task's optimisers (one phase each): the task's named loss
/// terms → NaN check → backward → gradient sync → clip → optimiser step (lr from the schedule) → EMA → logs →
/// (mid-epoch checkpoint). Each epoch ends with evaluation, the epoch log, and the latest / numbered / best
/// checkpoints. The global generator is seeded from (seed, step) before every step and tasks draw their own streams
/// from <see cref="StepContext.SeedFor"/>, and batches come from the source by (epoch, position), so resuming from any
/// checkpoint continues bit-exactly.
/// </summary>
/// <typeparam name="TBatch">The task's batch type.</typeparam>
public sealed class TrainingLoop<TBatch> where TBatch : IDisposable
{
    private readonly LoopSetup<TBatch> _s;

    /// <summary>Creates the loop.</summary>
    public TrainingLoop(LoopSetup<TBatch> setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _s = setup;
    }

    /// <summary>Runs (or resumes) training to the configured number of epochs.</summary>
    public LoopResult Run()
    {
        var o = _s.Options;
        var task = _s.Task;
        var main = _s.Sync.IsMain;
        var ipe = _s.Train.BatchesPerEpoch;
        if (ipe <= 0)
        {
            throw new InvalidOperationException($"The training set has {_s.Train.Count} examples, fewer than one batch of {o.BatchSize}.");
        }
        if (task.Optimizers.Count == 0)
        {
            throw new InvalidOperationException("The task has no optimiser.");
        }
        var byEpoch = o.ScheduleUnit.Equals("epoch", StringComparison.OrdinalIgnoreCase);
        if (!byEpoch && !o.ScheduleUnit.Equals("iteration", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--schedule-unit {o.ScheduleUnit}: use iteration or epoch.");
        }
        var totalSteps = (long)ipe * o.Epochs;
        var schedule = new LearningRateSchedule(CosineLrScheduler.FromEpochs(o.Lr, o.MinLr, o.Epochs, o.WarmupEpochs, o.WarmupLr, ipe),
            ipe, byEpoch, o.ScheduleLagEpochs);
        double LrAt(long step) => schedule.LearningRate(step);
        var momentum = task.EmaSchedule ?? new EmaMomentumSchedule(o.StudentEmaDecay, totalSteps);

        var emaTarget = task.EmaTarget;
        if (o.StudentEma && emaTarget is null)
        {
            throw new ArgumentException("--student-ema: this task keeps no EMA copy.");
        }
        using var ema = o.StudentEma ? new ModelEma(emaTarget!.Value.CreateCopy(), emaTarget.Value.Source) : null;
        var parts = task.CheckpointParts.ToList();
        if (emaTarget is { } et)
        {
            parts.Add(new CheckpointPart(et.Entry, ema is null ? [] : [ema.Model]));
        }

        var outDir = main && o.OutputDir.Length > 0 ? o.OutputDir : null;
        using var folderLock = outDir is null ? null : OutputFolderLock.Acquire(outDir);
        if (outDir is not null)
        {
            PrepareFolder(outDir, resuming: !string.IsNullOrEmpty(o.Resume));
        }
        var state = new RunState();
        // Rank 0 may have just promoted a pending checkpoint: the others look for it afterwards.
        _s.Sync.Barrier();
        var resumePath = ResolveResume(o);
        if (StepAgreement.Count(_s.Sync, resumePath is not null) is var seeing && seeing > 0 && seeing < _s.Sync.WorldSize)
        {
            throw new InvalidDataException($"--resume: {seeing} of {_s.Sync.WorldSize} ranks found a checkpoint to resume from (rank {_s.Sync.Rank}: " +
                $"{resumePath ?? "none"}); every rank must see the same output folder (shared storage, same path).");
        }
        if (resumePath is not null)
        {
            state = TrainingCheckpoint.Restore(resumePath, parts, task.Optimizers);
            if (GlobalDataPosition.SamplesPerStep(resumePath) is long saved)
            {
                state.NextBatch = GlobalDataPosition.ToStep(state.NextBatch, saved, (long)o.BatchSize * _s.Sync.WorldSize, state.NextEpoch, resumePath);
            }
            if (state.NextEpoch > o.Epochs || state.NextBatch >= ipe || (state.NextEpoch == o.Epochs && state.NextBatch != 0))
            {
                // Printed 1-based like the progress lines (files keep the reference's 0-based epoch index).
                throw new InvalidDataException($"--resume: '{resumePath}' continues at epoch {state.NextEpoch + 1}, iteration {state.NextBatch + 1}, " +
                    $"outside this run of {o.Epochs} epochs x {ipe} iterations; resume with the --epochs, --batch-size and data it was written with.");
            }
            _s.Observer.OnMessage($"Resumed from {resumePath}: continuing at epoch {state.NextEpoch + 1}/{o.Epochs}, iteration {state.NextBatch + 1}/{ipe}.");
            if (outDir is not null)
            {
                RepairEpochFiles(outDir, resumePath, state);
            }
        }
        if (_s.Sync.WorldSize > 1)
        {
            // Every replica starts from rank 0's weights and buffers (the projector and the EMA copy included).
            _s.Sync.BroadcastFromMain([.. parts.SelectMany(p => p.Modules).SelectMany(m => m.parameters().Cast<Tensor>().Concat(m.buffers())).Distinct()]);
        }

        var termNames = task.TermNames;
        var iterColumns = new List<string> { "epoch", "itr", "lr" };
        iterColumns.AddRange(termNames);
        iterColumns.Add("total");
        // Wall time of the iteration (data wait, step, logging), so a slow step shows where it happened; the only
        // column a resumed run does not reproduce bit for bit.
        iterColumns.Add("seconds");
        var epochColumns = new List<string> { "epoch", "train_loss" };
        epochColumns.AddRange(task.MetricNames);
        epochColumns.AddRange(task.MetricNames.Select(m => "ema_" + m));
        epochColumns.Add("lr");
        epochColumns.Add("seconds");

        CsvLog? iterLog = null, epochLog = null;
        if (outDir is not null)
        {
            Directory.CreateDirectory(outDir);
            var startStep = (long)state.NextEpoch * ipe + state.NextBatch;
            iterLog = CsvLog.Open(Path.Combine(outDir, RunFiles.IterationsCsv), iterColumns,
                resumePath is null ? null : row => long.Parse(row[0], CultureInfo.InvariantCulture) * ipe + long.Parse(row[1], CultureInfo.InvariantCulture) < startStep);
            epochLog = CsvLog.Open(Path.Combine(outDir, RunFiles.EpochsCsv), epochColumns,
                resumePath is null ? null : row => int.Parse(row[0], CultureInfo.InvariantCulture) < state.NextEpoch);
        }

        var watch = Stopwatch.StartNew();
        long stepsThisRun = 0;
        MetricSet? final = state.LastEval, finalEma = null;
        var phaseParameters = task.Optimizers.Select(x => x.Optimizer.Parameters).ToArray();
        var values = new double[termNames.Count];
        var agreement = new StepAgreement(_s.Sync, termNames.Count);
        var phaseTerms = new List<int>(termNames.Count);
        // Each rank draws its own dropout and drop-path masks (the reference seeds each rank with seed + rank).
        var rankSeed = _s.Sync.Rank == 0 ? o.Seed : o.Seed ^ (_s.Sync.Rank * 0x5851F42D4C957F2DL);
        _s.Observer.OnStart(o.Epochs, ipe, state.NextEpoch, state.NextBatch);
        try
        {
            for (var epoch = state.NextEpoch; epoch < o.Epochs; epoch++)
            {
                var epochWatch = Stopwatch.StartNew();
                var iterationWatch = Stopwatch.StartNew();
                _s.Observer.OnEpochStart(epoch);
                task.SetTraining(true);
                var startBatch = epoch == state.NextEpoch ? state.NextBatch : 0;
                var iteration = startBatch;
                var profile = _s.Profile;
                var stepStart = Stopwatch.GetTimestamp();
                foreach (var batch in _s.Train.GetEpoch(epoch, startBatch))
                {
                    profile?.Add(StepProfile.Data, Stopwatch.GetTimestamp() - stepStart);
                    var step = (long)epoch * ipe + iteration;
                    double lr = 0, total = 0;
                    int examples;
                    var stopNow = false;
                    Array.Clear(values);
                    using (batch)
                    using (var scope = NewDisposeScope())
                    {
                        random.manual_seed(TrainingLoop.StepSeed(rankSeed, step));
                        examples = task.BatchSize(batch) * _s.Sync.WorldSize;
                        var context = new StepContext(epoch, iteration, step, o.Seed) { Profile = profile };
                        lr = LrAt(step);
                        for (var phase = 0; phase < task.Optimizers.Count; phase++)
                        {
                            var slot = task.Optimizers[phase];
                            using var terms = task.ComputeLoss(phase, batch, context);
                            var phaseTotal = terms.Total.ToDouble();
                            var finite = double.IsFinite(phaseTotal);
                            phaseTerms.Clear();
                            foreach (var (name, value) in terms.Terms)
                            {
                                var index = IndexOf(termNames, name);
                                values[index] = value.ToDouble();
                                finite &= double.IsFinite(values[index]);
                                phaseTerms.Add(index);
                            }
                            string? ranksCause = null;
                            if (_s.Sync.WorldSize > 1)
                            {
                                // Logged values become the global batch's; a non-finite loss or a stop request on any
                                // rank stops every rank at this same step.
                                agreement.Reduce(values, phaseTerms, ref phaseTotal, finite, phase == 0 && _s.Stop.IsCancellationRequested);
                                stopNow |= agreement.Stop;
                                finite = agreement.NonFiniteRanks.Count == 0;
                                ranksCause = finite ? null : $"the loss was not finite on rank(s) {string.Join(", ", agreement.NonFiniteRanks)} of {_s.Sync.WorldSize}";
                            }
                            total += phaseTotal;
                            if (!finite)
                            {
                                var components = new Dictionary<string, double>(StringComparer.Ordinal);
                                for (var i = 0; i < termNames.Count; i++)
                                {
                                    components[termNames[i]] = values[i];
                                }
                                components["total"] = total;
                                throw new NonFiniteLossException(epoch, iteration, step, components, ranksCause);
                            }
                            slot.Optimizer.LearningRate = slot.LrScale == 1.0 ? lr : lr * slot.LrScale;
                            var optimizerStart = Stopwatch.GetTimestamp();
                            slot.Optimizer.ZeroGrad();
                            var backwardStart = Stopwatch.GetTimestamp();
                            profile?.Add(StepProfile.Optimizer, backwardStart - optimizerStart);
                            terms.Total.backward();
                            optimizerStart = Stopwatch.GetTimestamp();
                            profile?.Add(StepProfile.Backward, optimizerStart - backwardStart);
                            _s.Sync.AllReduceGradients(phaseParameters[phase]);
                            if (o.ClipGrad > 0)
                            {
                                nn.utils.clip_grad_norm_(phaseParameters[phase], o.ClipGrad);
                            }
                            slot.Optimizer.Step();
                            _s.Sync.AfterStep(step, phaseParameters[phase]);
                            if (!AllFinite(phaseParameters[phase]))
                            {
                                var components = termNames.Select((n, i) => (n, values[i])).ToDictionary(x => x.n, x => x.Item2, StringComparer.Ordinal);
                                components["total"] = total;
                                throw new NonFiniteLossException(epoch, iteration, step, components,
                                    $"the loss was finite but the update of {slot.Entry} made parameters non-finite");
                            }
                            profile?.Add(StepProfile.Optimizer, Stopwatch.GetTimestamp() - optimizerStart);
                        }
                        using (StepProfile.Time(ema is null ? null : profile, StepProfile.Ema))
                        {
                            ema?.Update(momentum.Momentum(step));
                        }
                    }
                    var row = new object?[3 + termNames.Count + 2];
                    row[0] = epoch;
                    row[1] = iteration;
                    row[2] = lr;
                    for (var i = 0; i < termNames.Count; i++)
                    {
                        row[3 + i] = values[i];
                    }
                    row[^2] = total;
                    row[^1] = iterationWatch.Elapsed.TotalSeconds;
                    iterLog?.Append(row);
                    iterationWatch.Restart();
                    profile?.EndStep(Stopwatch.GetTimestamp() - stepStart);
                    state.LastLoss = total;
                    state.EpochLossSum += total;
                    state.EpochLossCount++;
                    iteration++;
                    stepsThisRun++;
                    _s.Observer.OnIteration(new IterationReport(epoch, iteration - 1, ipe, lr,
                        [.. termNames.Select((n, i) => (n, values[i]))], total, examples));

                    if (outDir is not null && o.SaveEveryIters > 0 && iteration % o.SaveEveryIters == 0 && iteration < ipe)
                    {
                        state.NextEpoch = epoch;
                        state.NextBatch = iteration;
                        SaveCheckpoint(outDir, RunFiles.LatestCheckpoint, state, parts, epoch, lr);
                        _s.FaultPoint?.Invoke("mid-epoch:latest");
                    }
                    if ((_s.Sync.WorldSize > 1 ? stopNow : _s.Stop.IsCancellationRequested) && iteration < ipe)
                    {
                        state.NextEpoch = epoch;
                        state.NextBatch = iteration;
                        string? saved = null;
                        if (outDir is not null)
                        {
                            SaveCheckpoint(outDir, RunFiles.LatestCheckpoint, state, parts, epoch, lr);
                            saved = Path.Combine(outDir, RunFiles.LatestCheckpoint);
                        }
                        throw new TrainingInterruptedException(epoch, iteration, saved);
                    }
                    if (_s.StopAfterSteps is long stop && stepsThisRun >= stop)
                    {
                        iterLog?.Dispose();
                        epochLog?.Dispose();
                        iterLog = epochLog = null;
                        return new LoopResult(false, epoch, final, state.Best, state.BestEpoch, finalEma, watch.Elapsed.TotalSeconds, stepsThisRun);
                    }
                    // A checkpoint saved above is not the next batch's wait.
                    stepStart = Stopwatch.GetTimestamp();
                }

                // ---- end of epoch: evaluate, log, checkpoint ----
                MetricSet? eval = null, emaEval = null;
                var last = epoch == o.Epochs - 1;
                if (task.HasEvaluation && (last || (o.EvalEvery > 0 && (epoch + 1) % o.EvalEvery == 0)))
                {
                    _s.Observer.OnEvaluating(epoch);
                    task.SetTraining(false);
                    eval = Combine(task.Evaluate(task.FinalModel));
                    if (eval is not null && ema is not null)
                    {
                        emaEval = Combine(task.Evaluate(ema.Model));
                    }
                    if (eval is not null)
                    {
                        final = eval;
                        finalEma = emaEval;
                        state.LastEval = eval;
                    }
                }
                var trainLoss = state.EpochLossCount > 0 ? state.EpochLossSum / state.EpochLossCount : double.NaN;
                state.EpochLossSum = 0;
                state.EpochLossCount = 0;
                var improved = eval is not null && (state.Best is null || Better(eval[task.BestMetric], state.Best[task.BestMetric], task.HigherIsBetter));
                if (improved)
                {
                    state.Best = eval;
                    state.BestEpoch = epoch;
                }
                state.NextEpoch = epoch + 1;
                state.NextBatch = 0;
                var lrNow = LrAt(Math.Min((long)(epoch + 1) * ipe, totalSteps - 1));
                var epochRow = new List<object?> { epoch, trainLoss };
                epochRow.AddRange(task.MetricNames.Select(m => (object?)(eval?.Values.GetValueOrDefault(m, double.NaN))));
                epochRow.AddRange(task.MetricNames.Select(m => (object?)(emaEval?.Values.GetValueOrDefault(m, double.NaN))));
                epochRow.Add(lrNow);
                epochRow.Add(epochWatch.Elapsed.TotalSeconds);
                epochLog?.Append([.. epochRow]);
                if (outDir is not null)
                {
                    // The epoch's files come from one complete pending checkpoint, and latest.pth.tar is replaced
                    // last: a kill at any moment leaves either the previous latest (the epoch is redone and its files
                    // rewritten) or a complete pending file that the next start promotes (RepairEpochFiles then makes
                    // any copy the kill prevented).
                    var pending = Path.Combine(outDir, PendingCheckpoint);
                    SaveCheckpoint(outDir, PendingCheckpoint, state, parts, epoch, lrNow);
                    _s.FaultPoint?.Invoke("checkpoint:pending");
                    if (o.SaveEvery > 0 && (epoch + 1) % o.SaveEvery == 0)
                    {
                        AtomicFile.Copy(pending, Path.Combine(outDir, RunFiles.EpochCheckpoint(epoch + 1)));
                        _s.FaultPoint?.Invoke("checkpoint:numbered");
                    }
                    if (improved)
                    {
                        AtomicFile.Copy(pending, Path.Combine(outDir, RunFiles.BestCheckpoint));
                        _s.FaultPoint?.Invoke("checkpoint:best");
                    }
                    File.Move(pending, Path.Combine(outDir, RunFiles.LatestCheckpoint), overwrite: true);
                    _s.FaultPoint?.Invoke("checkpoint:latest");
                }
                _s.Observer.OnEpochEnd(new EpochReport(epoch, trainLoss, eval, emaEval, epochWatch.Elapsed.TotalSeconds));
                if (StepAgreement.Any(_s.Sync, _s.Stop.IsCancellationRequested) && epoch + 1 < o.Epochs)
                {
                    throw new TrainingInterruptedException(epoch + 1, 0, outDir is null ? null : Path.Combine(outDir, RunFiles.LatestCheckpoint));
                }
            }
        }
        finally
        {
            iterLog?.Dispose();
            epochLog?.Dispose();
        }

        var result = new LoopResult(true, o.Epochs, final, state.Best, state.BestEpoch, finalEma, watch.Elapsed.TotalSeconds, stepsThisRun);
        if (outDir is not null)
        {
            // Weights only, as a plain PyTorch state dict: what --teacher-path, vkd eval and torch users want.
            CheckpointWriter.WriteStateDict(Path.Combine(outDir, RunFiles.FinalWeights), task.FinalModel.state_dict());
            var info = new Dictionary<string, object?>(_s.Metadata) { ["model"] = task.ModelName };
            AtomicFile.WriteAllText(Path.Combine(outDir, RunFiles.FinalWeightsInfo), JsonSerializer.Serialize(info, new JsonSerializerOptions { WriteIndented = true }));
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

    private MetricSet? Combine(MetricSet? local) => local is null || _s.CombineEvaluation is null ? local : _s.CombineEvaluation(local);

    /// <summary>The end-of-epoch checkpoint before it becomes <c>latest.pth.tar</c>.</summary>
    public const string PendingCheckpoint = "latest.pth.tar.pending";

    private static bool AllFinite(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return parameters.Count == 0 || stack(parameters.Select(p => isfinite(p).all()).ToArray()).all().item<bool>();
    }

    // Under the folder lock: temporary files of interrupted writes are removed, and a complete end-of-epoch checkpoint
    // that a kill kept from becoming latest.pth.tar is promoted (it is newer than latest) when resuming, or dropped.
    private void PrepareFolder(string outDir, bool resuming)
    {
        foreach (var f in OutputFolderLock.CleanOrphanedTemporaries(outDir))
        {
            _s.Observer.OnMessage($"Removed {Path.GetFileName(f)}, left by an interrupted write.");
        }
        var pending = Path.Combine(outDir, PendingCheckpoint);
        if (File.Exists(pending))
        {
            if (resuming)
            {
                File.Move(pending, Path.Combine(outDir, RunFiles.LatestCheckpoint), overwrite: true);
                _s.Observer.OnMessage($"Promoted {PendingCheckpoint}, the last end-of-epoch checkpoint of the interrupted run, to {RunFiles.LatestCheckpoint}.");
            }
            else
            {
                File.Delete(pending);
            }
        }
    }

    // A resume from an end-of-epoch checkpoint recreates that epoch's numbered and best copies if a kill prevented them.
    private void RepairEpochFiles(string outDir, string resumePath, RunState state)
    {
        if (state.NextBatch != 0 || state.NextEpoch == 0)
        {
            return;
        }
        var o = _s.Options;
        var numbered = Path.Combine(outDir, RunFiles.EpochCheckpoint(state.NextEpoch));
        if (o.SaveEvery > 0 && state.NextEpoch % o.SaveEvery == 0 && !File.Exists(numbered))
        {
            AtomicFile.Copy(resumePath, numbered);
            _s.Observer.OnMessage($"Recreated {Path.GetFileName(numbered)} from {Path.GetFileName(resumePath)}.");
        }
        var best = Path.Combine(outDir, RunFiles.BestCheckpoint);
        if (state.BestEpoch == state.NextEpoch - 1 && !HoldsEpoch(best, state.BestEpoch))
        {
            AtomicFile.Copy(resumePath, best);
            _s.Observer.OnMessage($"Recreated {RunFiles.BestCheckpoint} from {Path.GetFileName(resumePath)}.");
        }
    }

    private static bool HoldsEpoch(string checkpoint, int epoch)
    {
        if (!File.Exists(checkpoint))
        {
            return false;
        }
        try
        {
            using var c = CheckpointReader.Read(checkpoint);
            return c.Entries.TryGetValue("epoch", out var e) && Convert.ToInt64(e, CultureInfo.InvariantCulture) == epoch;
        }
        catch (Exception ex) when (ex is InvalidDataException or CheckpointFormatException or IOException)
        {
            return false;
        }
    }

    private static bool Better(double candidate, double best, bool higherIsBetter) =>
        higherIsBetter ? candidate > best : candidate < best;

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }
        throw new InvalidOperationException($"The task returned loss term '{name}', which is not among its TermNames [{string.Join(", ", names)}].");
    }

    /// <summary>The checkpoint <c>--resume</c> names (<c>auto</c>: the output folder's latest, if any); null for none.</summary>
    internal static string? ResolveResume(TrainingOptions o)
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

    private void SaveCheckpoint(string outDir, string name, RunState state, IReadOnlyList<CheckpointPart> parts, int epoch, double lr)
    {
        var o = _s.Options;
        var meta = new Dictionary<string, object?>(_s.Metadata)
        {
            ["model"] = _s.Task.ModelName,
            ["batch_size"] = (long)o.BatchSize,
            ["world_size"] = (long)_s.Sync.WorldSize,
            ["lr"] = lr,
            ["seed"] = (long)o.Seed,
            ["args"] = ConfigFile.ToFlags(o).ToDictionary(kv => kv.Key, kv => kv.Value),
        };
        TrainingCheckpoint.Save(Path.Combine(outDir, name), state, parts, _s.Task.Optimizers, epoch, meta);
    }

    private void WriteSummary(string outDir, LoopResult r)
    {
        static object? M(MetricSet? m)
        {
            if (m is null)
            {
                return null;
            }
            var d = m.Values.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);
            d["images"] = m.Count;
            return d;
        }
        var summary = new Dictionary<string, object?>(_s.Metadata)
        {
            ["student"] = _s.Task.ModelName,
            ["epochs"] = r.EpochsDone,
            ["iterations_per_epoch"] = _s.Train.BatchesPerEpoch,
            ["train_images"] = _s.Train.Count,
            ["eval_images"] = _s.EvalCount,
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
    public MetricSet? Best { get; set; }

    /// <summary>Epoch of <see cref="Best"/>.</summary>
    public int BestEpoch { get; set; } = -1;

    /// <summary>Most recent evaluation.</summary>
    public MetricSet? LastEval { get; set; }

    /// <summary>Loss of the last step.</summary>
    public double LastLoss { get; set; } = double.NaN;

    /// <summary>Sum of step losses in the current epoch (kept across a mid-epoch resume for the epoch mean).</summary>
    public double EpochLossSum { get; set; }

    /// <summary>Steps summed in <see cref="EpochLossSum"/>.</summary>
    public long EpochLossCount { get; set; }
}
