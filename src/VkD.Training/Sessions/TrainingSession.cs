using TorchSharp;
using VkD.Data.Datasets;
using VkD.Distillation.Distiller;
using VkD.Distillation.Losses;
using VkD.Distillation.Methods;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using VkD.Distillation.Teachers;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Training.Checkpoints;
using VkD.Training.Distributed;
using VkD.Training.Evaluation;
using VkD.Training.Logging;
using VkD.Training.Loop;
using VkD.Training.Optim;
using VkD.Training.Options;
using VkD.Training.Tasks;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Training.Sessions;

/// <summary>Which command a session runs.</summary>
public enum SessionKind
{
    /// <summary><c>vkd train</c>: supervised training of one model.</summary>
    Train,

    /// <summary><c>vkd distill</c>: a student from a frozen teacher.</summary>
    Distill,
}

/// <summary>Outcome of a classification run (<see cref="TrainingSession.Run"/>).</summary>
/// <param name="Completed">False when the run was stopped by the test hook.</param>
/// <param name="EpochsDone">Epochs completed.</param>
/// <param name="Final">Last evaluation of the student.</param>
/// <param name="Best">Best evaluation of the student (by top-1).</param>
/// <param name="BestEpoch">Epoch of <paramref name="Best"/>, or -1.</param>
/// <param name="FinalEma">Last evaluation of the EMA student, if any.</param>
/// <param name="Seconds">Wall time of this process's part of the run.</param>
/// <param name="Steps">Optimiser steps done by this process.</param>
/// <param name="Profile">Where the steps' time went (data, teacher, student, loss, backward, optimizer).</param>
public sealed record TrainingResult(bool Completed, int EpochsDone, EvalMetrics? Final, EvalMetrics? Best, int BestEpoch, EvalMetrics? FinalEma, double Seconds, long Steps,
    StepProfile? Profile = null);

/// <summary>
/// Builds and runs a whole training or distillation run from resolved options: opens the data, builds the student
/// (and teacher, projector, loss), checks that everything fits together before the first step, writes the resolved
/// configuration, and runs the <see cref="ClassificationTask"/> through the one <see cref="TrainingLoop{TBatch}"/>. The CLI's <c>train</c>, <c>distill</c> and <c>quickstart</c> are
/// thin layers over this.
/// </summary>
public static class TrainingSession
{
    static TrainingSession()
    {
        TeacherFactory.RegisterZoo(CreateZooTeacher);
    }

    /// <summary>Makes sure the built-in teacher kinds are registered (the static constructor does it).</summary>
    public static void EnsureRegistered()
    {
    }

    /// <summary>Runs a session; see <see cref="SessionKind"/>.</summary>
    /// <param name="kind">Train or distill.</param>
    /// <param name="options">Resolved options.</param>
    /// <param name="observer">Progress receiver.</param>
    /// <param name="sync">Gradient sync (single process when null).</param>
    /// <param name="stopAfterSteps">Test hook: stop like a crash after this many steps.</param>
    /// <param name="stop">Stops the run at the next step boundary with its position saved (SIGINT/SIGTERM in the CLI).</param>
    /// <param name="replayRanks">Computes on this one process what this many ranks with --batch-size / replayRanks each
    /// compute together (each rank's shard, augmentation and mixing; see <see cref="ReplayedRanksSource"/>).</param>
    /// <param name="profile">Where the steps' part times are added (a new one when null); also in the result.</param>
    /// <remarks>With <paramref name="sync"/> null, a process started by <c>mpirun</c> as one of several joins the MPI
    /// job (<see cref="DataParallel.FromEnvironment"/>; MPI is finalised at process exit when the run ended alike on
    /// every rank); only rank 0 reports progress.</remarks>
    public static TrainingResult Run(SessionKind kind, TrainingOptions options, ITrainingObserver? observer = null,
        IGradientSync? sync = null, long? stopAfterSteps = null, CancellationToken stop = default, int replayRanks = 1, StepProfile? profile = null)
    {
        observer ??= NullTrainingObserver.Instance;
        Validate(kind, options);
        ArgumentOutOfRangeException.ThrowIfLessThan(replayRanks, 1);
        return DataParallel.RunInJob(sync, job =>
        {
            if (replayRanks > 1 && (job.WorldSize > 1 || options.BatchSize % replayRanks != 0))
            {
                throw new ArgumentException($"Replaying {replayRanks} ranks needs one process and a --batch-size divisible by {replayRanks} (got {options.BatchSize} on {job.WorldSize}).");
            }
            return RunOn(kind, options, job.IsMain ? observer : NullTrainingObserver.Instance, job, stopAfterSteps, stop, replayRanks, profile ?? new StepProfile());
        });
    }

    private static TrainingResult RunOn(SessionKind kind, TrainingOptions options, ITrainingObserver observer, IGradientSync sync,
        long? stopAfterSteps, CancellationToken stop, int replayRanks, StepProfile profile)
    {
        if (options.Threads > 0)
        {
            set_num_threads(options.Threads);
        }
        var (lr, lrNote) = DataParallel.LearningRate(options, sync.WorldSize);
        if (lrNote is not null)
        {
            options = options.Clone();
            options.Lr = lr;
            observer.OnMessage(lrNote);
        }
        var device = TrainingDevice.Resolve(options.Device);
        var modelSize = ModelRegistry.Info(options.StudentModel).DefaultImgSize;
        var data = replayRanks > 1
            ? DataSources.Open(PerRank(options, replayRanks), 0, replayRanks, modelInputSize: modelSize)
            : DataSources.Open(options, sync.Rank, sync.WorldSize, modelInputSize: modelSize, shardEval: sync.WorldSize > 1);
        if (data.Train.BatchesPerEpoch == 0)
        {
            throw new ArgumentException($"--batch-size {options.BatchSize} is larger than the {data.Train.Count} training images of this process: " +
                "training drops the last partial batch, so no step would run; use a smaller --batch-size.");
        }
        IBatchSource train = data.Train;
        IBatchMixer? mixer = options.MixupActive && options.MixupProb > 0 ? new MixupBatchMixer(options, data.NumClasses, sync.Rank) : null;
        if (replayRanks > 1)
        {
            var perRank = PerRank(options, replayRanks);
            train = new ReplayedRanksSource([data.Train, .. Enumerable.Range(1, replayRanks - 1).Select(r => DataSources.Open(perRank, r, replayRanks, modelInputSize: modelSize).Train)]);
            mixer = mixer is null ? null : new ReplayedRanksMixer([.. Enumerable.Range(0, replayRanks).Select(r => new MixupBatchMixer(options, data.NumClasses, r))]);
        }
        var modelOptions = new ModelOptions(data.NumClasses, data.InputSize, options.DropPath, data.Channels);

        // The student's initial weights depend only on the seed (and the projector's on the same stream after it).
        random.manual_seed(options.Seed);
        var student = ModelRegistry.Create(options.StudentModel, modelOptions);
        try
        {
            if (!string.IsNullOrEmpty(options.StudentCkpt))
            {
                var report = TrainingCheckpoint.LoadWeights(student, options.StudentCkpt);
                observer.OnMessage($"Initialised {options.StudentModel} from {options.StudentCkpt}: {report.Describe()}.");
            }
            student.to(device);
            var (teacher, distiller, taps) = kind == SessionKind.Train ? (null, null, MethodTaps.None) : BuildDistillation(options, student, data, device, sync.WorldSize);
            // The teacher sees the same augmented crop at its own size: batches are made at the larger of the two
            // sides and the smaller network gets them resized down, so a 224 px teacher of a 32 px student is not fed
            // an upscaled 32 px image (it lost 14 points that way on real photos).
            var teacherSize = teacher is null ? 0 : TeacherSize(options, teacher, data);
            if (teacher is not null && teacherSize > data.TrainImageSize && data.CropsFromLargerImages)
            {
                if (replayRanks > 1)
                {
                    throw new NotSupportedException("Replaying ranks with a teacher larger than the student's input is not supported.");
                }
                data = data.WithTrainingImageSize(teacherSize);
                train = data.Train;
            }
            var cache = teacher is not null && distiller is not null && distiller.NeedsTeacher && options.TeacherCache.Length > 0
                ? OpenTeacherCache(options, teacher, data, teacherSize, sync) : null;
            using var task = NewTask(cache, () => new ClassificationTaskSetup
            {
                TeacherCache = cache,
                Student = student,
                StudentName = options.StudentModel,
                Teacher = teacher,
                Distiller = distiller,
                StudentTaps = taps.Student,
                TeacherTaps = taps.Teacher,
                LabelSmoothing = options.Smoothing,
                CreateEmaModel = () => ModelRegistry.Create(options.StudentModel, modelOptions),
                Eval = data.Eval,
                Mixer = mixer,
                Lr = options.Lr,
                WeightDecay = options.WeightDecay,
                OptEps = options.OptEps,
                Optimizer = options.Opt,
                Momentum = options.Momentum,
                ReleasedProjectorDecay = options.ReleasedProjectorDecay,
                Device = device,
                StudentInputSize = data.InputSize,
                TeacherInputSize = teacherSize,
            });
            CheckShapes(task, data, device, teacherSize);
            foreach (var line in Banner(kind, options, task, data, device, sync))
            {
                observer.OnMessage(line);
            }
            var metadata = new Dictionary<string, object?>
            {
                ["command"] = kind == SessionKind.Train ? "train" : "distill",
                ["teacher"] = kind == SessionKind.Distill ? options.Teacher : null,
                ["dataset"] = data.Spec.ToString(),
                ["num_classes"] = (long)data.NumClasses,
                ["input_size"] = (long)data.InputSize,
                ["in_chans"] = (long)data.Channels,
                // What a user of the weights needs to feed them and read them: the input statistics and the labels.
                ["mean"] = data.Normalization.Mean.ToList(),
                ["std"] = data.Normalization.Std.ToList(),
                ["class_names"] = data.Train.ClassNames.ToList(),
            };
            // The options as the run actually uses them: the input size the data resolved to, not 0 for "native".
            var resolved = options.Clone();
            resolved.InputSize = data.InputSize;
            foreach (var change in ResumeOptionsCheck.Check(resolved))
            {
                observer.OnMessage($"Resuming with a changed option: {change}.");
            }
            if (sync.IsMain && options.OutputDir.Length > 0)
            {
                Directory.CreateDirectory(options.OutputDir);
                var config = System.Text.Json.JsonSerializer.Serialize(ConfigFile.ToFlags(resolved), new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
                AtomicFile.WriteAllText(Path.Combine(options.OutputDir, RunFiles.ConfigJson), config);
                BadImagesFile.Add(options.OutputDir, data.BadImages);
                void Record(VkD.Data.Loading.SkippedImagesReport r, string what)
                {
                    if (r.Skipped > 0)
                    {
                        observer.OnMessage($"epoch {r.Epoch + 1}: {r.Skipped} image(s) failed to decode and were {what}; listed in {RunFiles.BadImages}.");
                        BadImagesFile.Add(options.OutputDir, r.Sources.Select(p => new BadImage(-1, p, $"failed to decode during the run; {what}")));
                    }
                }
                data.Train.EpochImagesChecked += (_, r) => Record(r, "replaced by the next sample");
                data.Eval.EpochImagesChecked += (_, r) => Record(r, "left out of evaluation");
            }
            var loop = new TrainingLoop<Batch>(new LoopSetup<Batch>
            {
                Profile = profile,
                Task = StepAnnouncingTask.Wrap(task),
                Train = train,
                Options = resolved,
                Sync = sync,
                Observer = observer,
                StopAfterSteps = stopAfterSteps,
                Stop = stop,
                EvalCount = data.Eval is null ? null : EvalImages(data.Eval.Count, sync),
                CombineEvaluation = sync.WorldSize > 1 ? local => ShardedClassificationMetrics.Combine(local, sync) : null,
                Metadata = metadata,
            });
            var r = loop.Run();
            if (profile.Steps > 0)
            {
                observer.OnMessage(profile.Describe());
            }
            if (task.TeacherCache is { } usedCache)
            {
                observer.OnMessage(usedCache.Summary());
            }
            if (sync is MpiGradientSync mpi && mpi.GradientSyncCalls > 0 && r.Seconds > 0)
            {
                observer.OnMessage(mpi.Describe(r.Steps, r.Seconds));
            }
            return new TrainingResult(r.Completed, r.EpochsDone, ClassificationTask.ToEvalMetrics(r.Final), ClassificationTask.ToEvalMetrics(r.Best),
                r.BestEpoch, ClassificationTask.ToEvalMetrics(r.FinalEma), r.Seconds, r.Steps, profile);
        }
        finally
        {
            student.Dispose();
        }
    }

    // The cache holds a lock on its folder: released when the task refuses the setup, not at finalisation.
    private static ClassificationTask NewTask(TeacherOutputCache? cache, Func<ClassificationTaskSetup> setup)
    {
        try
        {
            return new ClassificationTask(setup());
        }
        catch
        {
            cache?.Dispose();
            throw;
        }
    }

    // Everything the teacher's answer for (draw, image) depends on; the cache keeps one folder per distinct set.
    private static TeacherOutputCache OpenTeacherCache(TrainingOptions o, ITeacher teacher, DataSources data, int teacherSize, IGradientSync sync)
    {
        var weights = o.Teacher.StartsWith("onnx:", StringComparison.OrdinalIgnoreCase) ? o.Teacher[5..].Split('?')[0] : o.TeacherPath;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var identity = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["teacher"] = o.Teacher,
            ["teacher_weights"] = File.Exists(weights) ? TeacherOutputCache.FileFingerprint(weights) : "",
            ["teacher_precision"] = o.TeacherPrecision,
            ["teacher_input_size"] = teacherSize.ToString(inv),
            ["data"] = data.Spec.ToString(),
            ["train_subset"] = o.TrainSubset.ToString(inv),
            ["seed"] = o.Seed.ToString(inv),
            ["augmentation"] = data.TrainAugmentation,
            ["train_image_size"] = data.TrainImageSize.ToString(inv),
            ["mean"] = string.Join(",", data.Normalization.Mean.Select(v => v.ToString("R", inv))),
            ["std"] = string.Join(",", data.Normalization.Std.Select(v => v.ToString("R", inv))),
        };
        if (teacher is ModelTeacher { BatchNormFolded: true })
        {
            // Folded outputs differ from unfolded ones at float32 rounding: records of one must not replay as the
            // other. Only added when folded, so caches recorded before folding existed keep their key.
            identity["teacher_bn_folded"] = "true";
        }
        if (teacher is ModelTeacher { UsesChannelsLast: true })
        {
            // Other conv kernels, other summation order: the same rounding-level difference.
            identity["teacher_channels_last"] = "true";
        }
        if (sync.WorldSize > 1)
        {
            // Each rank writes its own records (ranks see different images each epoch).
            identity["rank"] = $"{sync.Rank} of {sync.WorldSize}";
        }
        return TeacherOutputCache.Open(o.TeacherCache, identity, o.TeacherCacheDraws, data.Train.DatasetCount, teacher.NumClasses, teacher.FeatureDim,
            TeacherOutputCache.ParseDtype(o.TeacherCacheDtype));
    }

    private static TrainingOptions PerRank(TrainingOptions options, int ranks)
    {
        var o = options.Clone();
        o.BatchSize = options.BatchSize / ranks;
        return o;
    }

    // The whole evaluation set's size (each rank holds a shard of it).
    private static int EvalImages(int shard, IGradientSync sync)
    {
        Span<long> count = [shard];
        sync.AllReduceSum(count);
        return checked((int)count[0]);
    }

    /// <summary>
    /// What a run is about to do, printed before the first step so a long run is never silent: the models and their
    /// parameter counts, the teacher and what it is fed, data sizes, input size, device, threads and effective batch.
    /// </summary>
    public static IReadOnlyList<string> Banner(SessionKind kind, TrainingOptions o, ClassificationTask task, DataSources data, Device device, IGradientSync sync)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(sync);
        static string Millions(long n) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{n / 1e6:F2}M");
        var lines = new List<string>
        {
            $"{(kind == SessionKind.Train ? "model" : "student")} {o.StudentModel}: {Millions(task.Student.parameters().Sum(p => p.numel()))} parameters, {data.Channels}x{data.InputSize}x{data.InputSize} input",
        };
        if (task.Teacher is not null)
        {
            var fed = task.Teacher switch
            {
                ModelTeacher mt => $"zoo model {mt.Name} ({Millions(mt.Model.parameters().Sum(p => p.numel()))} parameters, TorchSharp" +
                    (mt.BatchNormFolded ? ", BatchNorm folded into the convs" : "") +
                    (mt.UsesChannelsLast ? ", channels-last" : "") +
                    (mt.Precision == ScalarType.Float32 ? ")" : $", {mt.Precision}{(mt.Agreement is { } a ? $" {a}" : "")})"),
                var other => other.ToString() ?? other.GetType().Name,
            };
            var t = task.TeacherInputSize > 0 ? task.TeacherInputSize : data.InputSize;
            fed += t == data.InputSize ? $", fed the student's {t}x{t} batch"
                : data.TrainImageSize >= t ? $", fed {t}x{t} images (the same augmented crop; the student gets it at {data.InputSize}x{data.InputSize})"
                : $", fed {t}x{t} images (the student's {data.InputSize}x{data.InputSize} batch upscaled: the stored images are that small)";
            lines.Add($"teacher {o.Teacher}: {fed}; {task.Teacher.FeatureDim}-d features, {(task.Teacher.NumClasses > 0 ? $"{task.Teacher.NumClasses} classes" : "no logits (feature-only)")}" +
                $"{(task.UsesTeacher ? "" : "; not run (alpha = gamma = 0)")}");
        }
        if (task.TeacherCache is { } cache)
        {
            lines.Add(cache.Describe());
        }
        if (task.Distiller is not null)
        {
            lines.Add($"loss terms: {string.Join(" + ", task.Distiller.Terms.Select(t => t.Weight == 1 ? t.Name : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{t.Weight}*{t.Name}")))}" +
                $"{string.Concat(task.Distiller.Projectors.Select(kv => $"; {kv.Key} {kv.Value.GetType().Name} {kv.Value.InFeatures}->{kv.Value.OutFeatures}"))}");
            lines.AddRange(task.Distiller.Terms.Select(DistillationMethods.Describe).OfType<string>().Select(d => "method " + d));
        }
        var perRank = sync.WorldSize > 1 ? " per rank" : "";
        lines.Add($"data {data.Spec}: {data.Train.Count} training images{perRank} ({data.Train.BatchesPerEpoch} batches of {o.BatchSize}), {data.Eval?.Count ?? 0} evaluation images{perRank}, {data.NumClasses} classes" +
            (data.BadImages.Count > 0 ? $"; {data.BadImages.Count} bad image file(s) left out (--skip-bad-images), listed in {RunFiles.BadImages}" : ""));
        lines.Add($"device {device}, {(o.Threads > 0 ? o.Threads : get_num_threads())} threads, {sync.WorldSize} process(es), effective batch {o.BatchSize * sync.WorldSize}, {Native.RetainingAllocator.Active()}; " +
            $"{o.Opt} lr {o.Lr.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)} per {o.ScheduleUnit}, {o.Epochs} epochs");
        return lines;
    }

    /// <summary>Checks names and option values that do not need any data, so bad flags fail immediately.</summary>
    /// <exception cref="ArgumentException">The message names the flag and the accepted values.</exception>
    public static void Validate(SessionKind kind, TrainingOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.StudentModel))
        {
            throw new ArgumentException(kind == SessionKind.Train ? "No model given: pass --model <name>." : "No student given: pass --student-model <name>.");
        }
        RequireModel(o.StudentModel, kind == SessionKind.Train ? "--model" : "--student-model");
        if (kind == SessionKind.Distill)
        {
            if (string.IsNullOrWhiteSpace(o.Teacher))
            {
                throw new ArgumentException("No teacher given: pass --teacher <zoo model> --teacher-path <weights>, or --teacher onnx:PATH.");
            }
            if (!o.Teacher.Contains(':'))
            {
                RequireModel(o.Teacher, "--teacher");
                if (string.IsNullOrEmpty(o.TeacherPath))
                {
                    // The reference's teacher has a well-known source; say it instead of leaving the user to search.
                    var where = o.Teacher.Equals("regnety_160", StringComparison.OrdinalIgnoreCase)
                        ? " The reference's RegNetY-160 teacher is DeiT's regnety_160-a5fe301d.pth (DeiT's main.py fetches https://dl.fbaipublicfiles.com/deit/regnety_160-a5fe301d.pth; the VkD README links the same weights on Google Drive): download it where you have network access and pass its path."
                        : "";
                    throw new ArgumentException($"--teacher {o.Teacher} needs --teacher-path: nothing is downloaded at run time, so a teacher is a checkpoint you trained (vkd train), converted or downloaded yourself.{where}");
                }
                if (!File.Exists(o.TeacherPath))
                {
                    throw new ArgumentException($"--teacher-path '{o.TeacherPath}' does not exist.");
                }
            }
            if (!ProjectorFactory.Names.Contains(o.Projector))
            {
                throw new ArgumentException($"--projector {o.Projector} is unknown; use one of {string.Join(", ", ProjectorFactory.Names)}.");
            }
            _ = TeacherPrecisions.Parse(o.TeacherPrecision);
            _ = TeacherSwitches.Parse(o.TeacherFoldBn, "--teacher-fold-bn");
            _ = TeacherSwitches.Parse(o.TeacherChannelsLast, "--teacher-channels-last");
            if (!NormalizationFactory.Names.Contains(o.Norm))
            {
                throw new ArgumentException($"--norm {o.Norm} is unknown; use one of {string.Join(", ", NormalizationFactory.Names)}.");
            }
            ValidateMethod(o);
            if (o.TeacherCache.Length > 0)
            {
                if (o.TeacherCacheDraws < 1)
                {
                    throw new ArgumentException($"--teacher-cache-draws must be at least 1, got {o.TeacherCacheDraws}.");
                }
                _ = TeacherOutputCache.ParseDtype(o.TeacherCacheDtype);
                if (o.MixupActive && o.MixupProb > 0)
                {
                    throw new ArgumentException("--teacher-cache replays the teacher's outputs per image, but Mixup/CutMix mixes images differently every epoch: pass --mixup 0 --cutmix 0 (or --mixup-prob 0), or drop --teacher-cache.");
                }
                if (File.Exists(o.TeacherCache))
                {
                    throw new ArgumentException($"--teacher-cache '{o.TeacherCache}' is a file; it must name a folder (created if missing).");
                }
            }
        }
        if (!string.IsNullOrEmpty(o.StudentCkpt) && !File.Exists(o.StudentCkpt))
        {
            throw new ArgumentException($"--student-ckpt '{o.StudentCkpt}' does not exist.");
        }
        TrainingDevice.Resolve(o.Device);
        if (o.Opt.ToLowerInvariant() is not ("adamw" or "sgd" or "momentum"))
        {
            throw new ArgumentException($"--opt {o.Opt}: use adamw, sgd (Nesterov momentum) or momentum.");
        }
        // NaN passes every `< 0` check, so each number is checked for being finite and in range explicitly.
        RequireRange("--lr", o.Lr, 0, double.MaxValue, minExclusive: true);
        RequireRange("--min-lr", o.MinLr, 0, double.MaxValue);
        RequireRange("--warmup-lr", o.WarmupLr, 0, double.MaxValue);
        RequireRange("--warmup-epochs", o.WarmupEpochs, 0, double.MaxValue);
        RequireRange("--weight-decay", o.WeightDecay, 0, double.MaxValue);
        RequireRange("--clip-grad", o.ClipGrad, 0, double.MaxValue);
        RequireRange("--opt-eps", o.OptEps, 0, double.MaxValue, minExclusive: true);
        RequireRange("--momentum", o.Momentum, 0, 1);
        RequireRange("--alpha", o.Alpha, 0, double.MaxValue);
        RequireRange("--gamma", o.Gamma, 0, double.MaxValue);
        RequireRange("--temperature", o.Temperature, 0, double.MaxValue, minExclusive: true);
        RequireRange("--smoothing", o.Smoothing, 0, 1, maxExclusive: true);
        RequireRange("--drop-path", o.DropPath, 0, 1, maxExclusive: true);
        RequireRange("--mixup", o.Mixup, 0, double.MaxValue);
        RequireRange("--cutmix", o.Cutmix, 0, double.MaxValue);
        RequireRange("--mixup-prob", o.MixupProb, 0, 1);
        RequireRange("--mixup-switch-prob", o.MixupSwitchProb, 0, 1);
        RequireRange("--student-ema-decay", o.StudentEmaDecay, 0, 1);
        RequireRange("--scale-min", o.ScaleMin, 0, 1, minExclusive: true);
        RequireRange("--scale-max", o.ScaleMax, o.ScaleMin, 1);
        if (!o.ScheduleUnit.Equals("iteration", StringComparison.OrdinalIgnoreCase) && !o.ScheduleUnit.Equals("epoch", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--schedule-unit {o.ScheduleUnit}: use iteration or epoch.");
        }
        if (o.OutputDir.Length > 0 && File.Exists(o.OutputDir))
        {
            throw new ArgumentException($"--output_dir '{o.OutputDir}' is a file; it must name a folder (created if missing).");
        }
        if (o.BatchSize <= 0 || o.Epochs <= 0)
        {
            throw new ArgumentException($"--batch-size and --epochs must be positive (got {o.BatchSize}, {o.Epochs}).");
        }
        if (o.MixupActive && o.MixupProb > 0 && o.BatchSize % 2 != 0)
        {
            throw new ArgumentException($"Mixup/CutMix pairs each image with its mirror in the batch, so --batch-size must be even (got {o.BatchSize}); or pass --mixup 0 --cutmix 0.");
        }
    }

    private static void RequireRange(string flag, double value, double min, double max, bool minExclusive = false, bool maxExclusive = false)
    {
        var ok = double.IsFinite(value) && (minExclusive ? value > min : value >= min) && (maxExclusive ? value < max : value <= max);
        if (!ok)
        {
            var low = minExclusive ? $"> {min}" : $">= {min}";
            var high = max == double.MaxValue ? "" : maxExclusive ? $" and < {max}" : $" and <= {max}";
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{flag} must be a finite number {low}{high}, got {value}."));
        }
    }

    /// <summary>Throws a clear error unless <paramref name="name"/> is in the model zoo.</summary>
    public static void RequireModel(string name, string flag)
    {
        if (!ModelRegistry.Contains(name))
        {
            throw new ArgumentException($"{flag} {name}: unknown model. Known models: {string.Join(", ", ModelRegistry.Names)}.");
        }
    }

    private static (ITeacher, FeatureDistiller, MethodTaps) BuildDistillation(TrainingOptions o, ClassifierModel student, DataSources data, Device device, int worldSize)
    {
        // A zoo teacher is built at the size it was trained at when its checkpoint records it (VkD.NET's do).
        var ownSize = o.TeacherInputSize > 0 ? o.TeacherInputSize
            : !o.Teacher.Contains(':', StringComparison.Ordinal) && File.Exists(o.TeacherPath) ? RecordedInputSize(o.TeacherPath) ?? data.InputSize
            : data.InputSize;
        var teacher = TeacherFactory.Create(new TeacherRequest(o.Teacher, o.TeacherPath, data.NumClasses, ownSize, data.Channels));
        try
        {
            var precision = TeacherPrecisions.Parse(o.TeacherPrecision);
            if (teacher is ModelTeacher mt)
            {
                mt.Model.to(TrainingDevice.Resolve(o.Device));
                // Before the precision change: the fold is computed from the float32 weights and statistics.
                if (TeacherSwitches.Parse(o.TeacherFoldBn, "--teacher-fold-bn"))
                {
                    mt.FoldBatchNorm();
                }
                if (TeacherSwitches.Parse(o.TeacherChannelsLast, "--teacher-channels-last") && VkD.Models.Layers.BatchNormFolding.CanFold(mt.Model))
                {
                    // CNNs only: a ViT's single patch-embedding conv gains nothing from it.
                    mt.UseChannelsLast();
                }
                if (precision != ScalarType.Float32)
                {
                    mt.SetPrecision(precision, AgreementImages(data, mt));
                }
            }
            else if (precision != ScalarType.Float32)
            {
                throw new ArgumentException($"--teacher-precision {o.TeacherPrecision} applies to zoo teachers run by TorchSharp; '--teacher {o.Teacher}' runs in its own model's precision.");
            }
            if (!o.DistillMethod.Trim().Equals("vkd", StringComparison.OrdinalIgnoreCase))
            {
                return BuildMethod(o, student, teacher, data, device, worldSize);
            }
            if (o.Gamma > 0 && teacher.NumClasses == 0)
            {
                throw new ArgumentException($"The teacher gives features only (no logits), so logit KD (--gamma {o.Gamma}) has nothing to match: pass --gamma 0, or a teacher with a classifier.");
            }
            if (o.Gamma > 0 && teacher.NumClasses != data.NumClasses)
            {
                throw new ArgumentException($"The teacher has {teacher.NumClasses} classes but the dataset has {data.NumClasses}; logit KD (--gamma {o.Gamma}) needs them equal (or pass --gamma 0).");
            }
            if (o.Gamma > 0 && teacher.NumClasses != student.NumClasses)
            {
                throw new ArgumentException($"Teacher ({teacher.NumClasses} classes) and student ({student.NumClasses}) heads cannot be paired for logit KD.");
            }
            var projector = ProjectorFactory.Create(o.Projector, student.NumFeatures, teacher.FeatureDim,
                new OrthogonalProjectorOptions(ReleasedCompatibility: o.ReleasedProjectorDecay));
            projector.to(TrainingDevice.Resolve(o.Device));
            var loss = new DistillationLoss(projector, new IdentityNormalization(), NormalizationFactory.Create(o.Norm),
                new DistillationLossOptions(o.Alpha, o.Gamma, o.Temperature, o.MixupActive ? 0.0 : o.Smoothing));
            return (teacher, loss, MethodTaps.None);
        }
        catch
        {
            teacher.Dispose();
            throw;
        }
    }

    // Up to 16 evaluation images at the teacher's size, on which a reduced-precision teacher is compared with float32.
    private static Tensor? AgreementImages(DataSources data, ModelTeacher teacher)
    {
        using var scope = NewDisposeScope();
        using var batch = data.Eval.GetEpoch(0).FirstOrDefault();
        if (batch is null)
        {
            return null;
        }
        var images = batch.Images.narrow(0, 0, Math.Min(16, batch.Images.shape[0]));
        if (teacher.InputSize > 0 && images.shape[^1] != teacher.InputSize)
        {
            images = nn.functional.interpolate(images, [teacher.InputSize, teacher.InputSize], mode: InterpolationMode.Bilinear, align_corners: false);
        }
        return images.to(teacher.Model.parameters().First().device).MoveToOuterDisposeScope();
    }

    // The method flags that need no data: the method, its options, and the VkD-only weights it would ignore.
    private static void ValidateMethod(TrainingOptions o)
    {
        var method = o.DistillMethod.Trim().ToLowerInvariant();
        DistillationMethods.Validate(method, o.MethodOptions);
        if (method == "vkd")
        {
            if (SplitPaths(o.StudentTaps).Count > 0 || SplitPaths(o.TeacherTaps).Count > 0)
            {
                throw new ArgumentException("--distill-method vkd pairs the pooled features and reads no --student-taps/--teacher-taps.");
            }
            return;
        }
        if (o.Alpha != 1.0)
        {
            throw new ArgumentException($"--alpha weighs the VkD feature term; --distill-method {method} sets its term's weight with --method-options weight=W.");
        }
        if (o.Gamma != 1.0 && !DistillationMethods.WithLogitKd.Contains(method))
        {
            throw new ArgumentException($"--gamma weighs logit KD where the original method has it ({string.Join(", ", DistillationMethods.WithLogitKd)}); add it to {method} with --method-options kd=W.");
        }
    }

    private static IReadOnlyList<string> SplitPaths(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    // A method of the catalogue: its taps, a probe forward pass for the feature shapes (which size its heads and
    // catch every pairing that cannot work before step 0), then its terms.
    private static (ITeacher, FeatureDistiller, MethodTaps) BuildMethod(TrainingOptions o, ClassifierModel student, ITeacher teacher, DataSources data, Device device, int worldSize)
    {
        var method = o.DistillMethod.Trim().ToLowerInvariant();
        var taps = DistillationMethods.ResolveTaps(method, student, (teacher as ModelTeacher)?.Model, SplitPaths(o.StudentTaps), SplitPaths(o.TeacherTaps));
        var (studentShapes, teacherShapes) = ProbeShapes(o, student, teacher, taps, data, device);
        var terms = DistillationMethods.Create(new MethodSetup
        {
            Method = method,
            Options = MethodOptions.Parse(o.MethodOptions),
            Taps = taps,
            StudentShapes = studentShapes,
            TeacherShapes = teacherShapes,
            LabelSmoothing = o.MixupActive ? 0.0 : o.Smoothing,
            Gamma = o.Gamma,
            Temperature = o.Temperature,
            // Dataset indices are global; with several processes each shard is padded, so this bounds the dataset size.
            DataCount = data.Train.Count * worldSize,
            SoftTargets = o.MixupActive && o.MixupProb > 0,
        });
        var distiller = new FeatureDistiller(terms);
        distiller.to(device);
        return (teacher, distiller, taps);
    }

    private static (Dictionary<string, long[]> Student, Dictionary<string, long[]> Teacher) ProbeShapes(TrainingOptions o, ClassifierModel student, ITeacher teacher,
        MethodTaps taps, DataSources data, Device device)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var studentTaps = new ModuleTaps(student, taps.Student);
        using var teacherTaps = taps.Teacher.Count > 0 ? new ModuleTaps(((ModelTeacher)teacher).Model, taps.Teacher) : null;
        var x = zeros(new long[] { 2, data.Channels, data.InputSize, data.InputSize }, device: device);
        student.eval();
        var s = student.ForwardForDistillation(x);
        var studentFeatures = studentTaps.AddTo(DistillationLoss.StudentFeatures(s.Logits, s.DistillationLogits, s.PooledFeatures));
        // The teacher is probed at the size it will get, so map methods size their heads for its maps.
        var side = TeacherSize(o, teacher, data);
        var xt = zeros(new long[] { 2, data.Channels, side, side }, device: device);
        var teacherFeatures = teacherTaps is null
            ? DistillationLoss.TeacherFeatures(teacher.Forward(xt))
            : teacherTaps.AddTo(DistillationLoss.TeacherFeatures(teacher.Forward(xt)));
        static Dictionary<string, long[]> Shapes(FeatureSet set) => set.Names.ToDictionary(n => n, n => set.Find(n)!.shape, StringComparer.Ordinal);
        return (Shapes(studentFeatures), Shapes(teacherFeatures));
    }

    /// <summary>Tells the distiller's step-aware terms (DKD's epoch, CRD's dataset indices) where each step is, then
    /// computes it; every other member is the classification task's.</summary>
    private sealed class StepAnnouncingTask(ClassificationTask inner, IReadOnlyList<IStepAwareTerm> terms) : ITrainingTask<Batch>
    {
        public static ITrainingTask<Batch> Wrap(ClassificationTask task)
        {
            var aware = task.Distiller?.Terms.OfType<IStepAwareTerm>().ToList() ?? [];
            return aware.Count == 0 ? task : new StepAnnouncingTask(task, aware);
        }

        public string ModelName => inner.ModelName;

        public IReadOnlyList<string> TermNames => inner.TermNames;

        public IReadOnlyList<string> MetricNames => inner.MetricNames;

        public string BestMetric => inner.BestMetric;

        public bool HigherIsBetter => inner.HigherIsBetter;

        public IReadOnlyList<TaskOptimizer> Optimizers => inner.Optimizers;

        public IReadOnlyList<CheckpointPart> CheckpointParts => inner.CheckpointParts;

        public (nn.Module Source, Func<nn.Module> CreateCopy, string Entry)? EmaTarget => inner.EmaTarget;

        public IEmaSchedule? EmaSchedule => inner.EmaSchedule;

        public nn.Module FinalModel => inner.FinalModel;

        public bool HasEvaluation => inner.HasEvaluation;

        public void SetTraining(bool training) => inner.SetTraining(training);

        public int BatchSize(Batch batch) => inner.BatchSize(batch);

        public MetricSet? Evaluate(nn.Module model) => inner.Evaluate(model);

        public LossTerms ComputeLoss(int phase, Batch batch, StepContext context)
        {
            var step = new DistillationStep(context.Epoch, batch.Indices);
            foreach (var term in terms)
            {
                term.BeginStep(step);
            }
            return inner.ComputeLoss(phase, batch, context);
        }
    }

    // One tiny forward pass of everything before step 0, so shape problems surface as clear errors, not mid-training.
    private static void CheckShapes(ClassificationTask task, DataSources data, Device device, int teacherSize)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = zeros(new long[] { 2, data.Channels, data.InputSize, data.InputSize }, device: device);
        ClassifierOutputs outputs;
        try
        {
            task.Student.eval();
            outputs = task.Student.ForwardForDistillation(x);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ArgumentException($"The student cannot run on {data.Channels}x{data.InputSize}x{data.InputSize} inputs: {e.Message}", e);
        }
        if (outputs.Logits.shape[1] != data.NumClasses)
        {
            throw new ArgumentException($"The student outputs {outputs.Logits.shape[1]} classes but the dataset has {data.NumClasses}.");
        }
        if (task.UsesTeacher && task.Distiller is DistillationLoss loss)
        {
            TeacherOutputs t;
            try
            {
                t = task.Teacher!.Forward(zeros(new long[] { 2, data.Channels, teacherSize, teacherSize }, device: device));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new ArgumentException($"The teacher cannot run on {data.Channels}x{teacherSize}x{teacherSize} inputs: {e.Message}", e);
            }
            if (t.Features.shape[^1] != loss.Projector.OutFeatures || outputs.PooledFeatures.shape[^1] != loss.Projector.InFeatures)
            {
                throw new ArgumentException($"Student features [{string.Join(", ", outputs.PooledFeatures.shape)}] and teacher features [{string.Join(", ", t.Features.shape)}] cannot be paired by a {loss.Projector.InFeatures}->{loss.Projector.OutFeatures} projector.");
            }
        }
    }

    /// <summary>The side the teacher gets: <c>--teacher-input-size</c>, else its own, else the student's.</summary>
    private static int TeacherSize(TrainingOptions o, ITeacher teacher, DataSources data) =>
        o.TeacherInputSize > 0 ? o.TeacherInputSize : teacher.InputSize > 0 ? teacher.InputSize : data.InputSize;

    private static int? RecordedInputSize(string checkpoint)
    {
        try
        {
            return CheckpointFacts.Read(checkpoint).InputSize;
        }
        catch (Exception e) when (e is IOException or CheckpointFormatException or InvalidDataException)
        {
            // The strict load that follows reports what is wrong with the file.
            return null;
        }
    }

    private static ITeacher CreateZooTeacher(TeacherRequest request)
    {
        RequireModel(request.Spec, "--teacher");
        var model = ModelRegistry.Create(request.Spec, new ModelOptions(request.NumClasses, request.InputSize, 0, request.InChannels));
        try
        {
            CheckpointLoader.Load(model, request.WeightsPath, new StateDictOptions { ExcludePrefixes = TrainingCheckpoint.DistillerPrefixes }, strict: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new ModelTeacher(model, request.Spec, request.InputSize);
    }
}
