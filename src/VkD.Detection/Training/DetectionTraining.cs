using System.Globalization;
using System.Text.Json;
using TorchSharp;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Detection.Models;
using VkD.Distillation.Distiller;
using VkD.Interop.Checkpoints;
using VkD.Training.Distributed;
using VkD.Training.Logging;
using VkD.Training.Loop;
using VkD.Training.Options;
using VkD.Training.Tasks;
using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>Which detection distillation a run uses.</summary>
public enum DetectionDistillation
{
    /// <summary>No teacher: ViDT's <c>train_one_epoch</c>.</summary>
    None,

    /// <summary>VkD's six orthogonally projected, standardised SmoothL1 pairs (<see cref="VidtDistillation.CreateVkd"/>).</summary>
    Vkd,

    /// <summary>ViDT's own token matching (<see cref="VidtDistillation.CreateTokenMatching"/>).</summary>
    TokenMatching,
}

/// <summary>A detection training run, in ViDT's flags (<c>arguments.py</c>; defaults are ViDT's where they apply).</summary>
public sealed class DetectionTrainingOptions
{
    /// <summary><c>--coco_path</c>: see <see cref="DetectionDataLayout"/>.</summary>
    public required string CocoPath { get; init; }

    /// <summary>The student (from <c>--backbone_name</c>, <c>--det_token_num</c>, <c>--with_box_refine</c>, ...).</summary>
    public required VidtConfig Model { get; init; }

    /// <summary>Name recorded in checkpoints (<c>vidt_nano</c>, ...); null: from the backbone.</summary>
    public string? ModelName { get; init; }

    /// <summary><c>--aux_loss</c>.</summary>
    public bool AuxLoss { get; init; }

    /// <summary><c>--pre_trained</c>: an ImageNet Swin checkpoint for the backbone (<see cref="SwinPretrainedWeights"/>),
    /// or <c>none</c> / null for random weights. ViDT's default <c>imagenet</c> (a download) is refused with what to pass.</summary>
    public string? PreTrained { get; init; }

    /// <summary>Which distillation (<see cref="DetectionDistillation.None"/>: no teacher).</summary>
    public DetectionDistillation Distillation { get; init; }

    /// <summary><c>--distil_model_path</c>: the teacher, a ViDT checkpoint loaded strictly.</summary>
    public string? DistilModelPath { get; init; }

    /// <summary>The teacher's ViDT name (<c>vidt_nano</c>, <c>vidt_tiny</c>, <c>vidt_small</c>, <c>vidt_base</c>) as ViDT's
    /// <c>--distil_model</c> gives it; checked against the checkpoint's backbone. Null: whatever the checkpoint holds.</summary>
    public string? TeacherName { get; init; }

    /// <summary><c>--distil_loss_coef</c>.</summary>
    public double DistilLossCoef { get; init; } = VidtDistillation.DefaultCoefficient;

    /// <summary><c>--nheads</c> of the teacher's decoder (not visible in its shapes).</summary>
    public int TeacherNHeads { get; init; } = 8;

    /// <summary><c>--dec_n_points</c> of the teacher's decoder.</summary>
    public int TeacherDecNPoints { get; init; } = 4;

    /// <summary><c>--epochs</c>.</summary>
    public int Epochs { get; init; } = 50;

    /// <summary><c>--lr</c> (every group).</summary>
    public double Lr { get; init; } = 1e-4;

    /// <summary><c>--min-lr</c>.</summary>
    public double MinLr { get; init; } = 1e-7;

    /// <summary><c>--weight_decay</c>.</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary><c>--clip_max_norm</c> (0: no clipping).</summary>
    public double ClipMaxNorm { get; init; } = 0.1;

    /// <summary><c>--batch_size</c> per process.</summary>
    public int BatchSize { get; init; } = 2;

    /// <summary><c>--num_workers</c>: more than 0 decodes the next batch while the model runs.</summary>
    public int NumWorkers { get; init; } = 2;

    /// <summary><c>--eval_size</c>: shortest side of the val resize.</summary>
    public int EvalSize { get; init; } = 800;

    /// <summary>The scale of ViDT's train recipe (<see cref="VidtTransforms.TrainAtSize"/>; 800 is ViDT's own).</summary>
    public int TrainSize { get; init; } = 800;

    /// <summary>Images per val batch.</summary>
    public int EvalBatchSize { get; init; } = 2;

    /// <summary>Matcher costs (<c>--set_cost_class</c>, <c>--set_cost_bbox</c>, <c>--set_cost_giou</c>).</summary>
    public (double Class, double Bbox, double Giou) MatcherCosts { get; init; } = (2, 5, 2);

    /// <summary>Loss coefficients (<c>--cls_loss_coef</c>, <c>--bbox_loss_coef</c>, <c>--giou_loss_coef</c>).</summary>
    public SetLossWeights LossWeights { get; init; } = new();

    /// <summary><c>--focal_alpha</c>.</summary>
    public double FocalAlpha { get; init; } = 0.25;

    /// <summary><c>--seed</c>.</summary>
    public int Seed { get; init; } = 42;

    /// <summary><c>--output_dir</c> (empty: no files).</summary>
    public string OutputDir { get; init; } = "";

    /// <summary><c>--resume</c>: a checkpoint of this trainer (<c>latest.pth.tar</c>), or <c>auto</c>.</summary>
    public string Resume { get; init; } = "";

    /// <summary><c>--device</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Intra-op threads (0: TorchSharp's default).</summary>
    public int Threads { get; init; }

    /// <summary>Evaluate every N epochs (the last is always evaluated).</summary>
    public int EvalEvery { get; init; } = 1;

    /// <summary>Keep a numbered checkpoint every N epochs (0: none).</summary>
    public int SaveEvery { get; init; } = 20;

    /// <summary>Write a mid-epoch checkpoint every N iterations (0: none).</summary>
    public int SaveEveryIters { get; init; }

    /// <summary>Use the first N training images in id order (0: all).</summary>
    public int TrainSubset { get; init; }

    /// <summary>Evaluate on the first N val images in id order (0: all).</summary>
    public int EvalSubset { get; init; }

    /// <summary>The ViDT flags as given, recorded as the checkpoints' and the summary's <c>vidt_args</c>.</summary>
    public IReadOnlyDictionary<string, object?> Arguments { get; init; } = new Dictionary<string, object?>();

    /// <summary>Throws <see cref="ArgumentException"/> for values out of range (naming the flag) and
    /// <see cref="FileNotFoundException"/> for inputs that do not exist.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Model);
        Model.Validate();
        void Positive(string flag, double value)
        {
            if (!(value > 0) || double.IsInfinity(value))
            {
                throw new ArgumentException($"{flag} must be positive, got {value.ToString(CultureInfo.InvariantCulture)}.");
            }
        }
        void NonNegative(string flag, double value)
        {
            if (!(value >= 0) || double.IsInfinity(value))
            {
                throw new ArgumentException($"{flag} must be 0 or positive, got {value.ToString(CultureInfo.InvariantCulture)}.");
            }
        }
        Positive("--epochs", Epochs);
        Positive("--batch_size", BatchSize);
        Positive("--lr", Lr);
        NonNegative("--min-lr", MinLr);
        NonNegative("--weight_decay", WeightDecay);
        NonNegative("--clip_max_norm", ClipMaxNorm);
        NonNegative("--distil_loss_coef", DistilLossCoef);
        NonNegative("--num_workers", NumWorkers);
        NonNegative("--eval-every", EvalEvery);
        NonNegative("--save-every", SaveEvery);
        NonNegative("--save-every-iters", SaveEveryIters);
        NonNegative("--train-subset", TrainSubset);
        NonNegative("--eval-subset", EvalSubset);
        Positive("--eval-batch-size", EvalBatchSize);
        if (EvalSize < 32 || TrainSize < 32)
        {
            throw new ArgumentException($"--eval_size and --train_size must be at least 32 px (ViDT's smallest input), got {EvalSize} and {TrainSize}.");
        }
        if (Distillation == DetectionDistillation.None)
        {
            if (DistilModelPath is not null)
            {
                throw new ArgumentException("--distil_model_path is given but no distillation is chosen: pass --distil_model vkd or vidt.");
            }
        }
        else
        {
            if (string.IsNullOrEmpty(DistilModelPath))
            {
                throw new ArgumentException("Distillation needs the teacher: pass --distil_model_path <ViDT checkpoint>.");
            }
            if (!File.Exists(DistilModelPath))
            {
                throw new FileNotFoundException($"Teacher checkpoint (--distil_model_path) not found: {DistilModelPath}", DistilModelPath);
            }
        }
        if (PreTrained is not null && !IsNone(PreTrained))
        {
            if (PreTrained.Equals("imagenet", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException("--pre_trained imagenet (ViDT's default) downloads ImageNet Swin weights, which cannot be done here: " +
                    "pass the checkpoint's path (e.g. --pre_trained swin_nano_patch4_window7_224.pth from ViDT's releases), or --pre_trained none for random weights.");
            }
            if (!File.Exists(PreTrained))
            {
                throw new FileNotFoundException($"--pre_trained: ImageNet Swin checkpoint not found: {PreTrained}", PreTrained);
            }
        }
        DetectionDataLayout.Resolve(CocoPath);
    }

    /// <summary>True for ViDT's "no pre-training" values of <c>--pre_trained</c>.</summary>
    public static bool IsNone(string? preTrained) =>
        preTrained is null || preTrained.Equals("none", StringComparison.OrdinalIgnoreCase) || preTrained.Length == 0;
}

/// <summary>Outcome of <see cref="DetectionTraining.Run"/>.</summary>
/// <param name="Loop">The loop's outcome (final and best COCO metrics, epochs, steps, time).</param>
/// <param name="VidtCheckpointPath">The final weights in ViDT's <c>main.py</c> layout (<c>checkpoint.pth</c>), when written.</param>
public sealed record DetectionTrainingResult(LoopResult Loop, string? VidtCheckpointPath);

/// <summary>
/// Builds and runs a ViDT training or distillation run (naver-ai/vidt <c>main.py</c>, VkD's <c>vidt/main.py</c>) on the
/// one training loop: the data under <c>--coco_path</c> (<see cref="DetectionDataLayout"/>), the student from the
/// seed (and <c>--pre_trained</c>), the teacher loaded strictly from <c>--distil_model_path</c>, the distiller after
/// the student (as VkD adds its projectors), the <see cref="DetectionTask"/>, and the loop with ViDT's gradient clipping
/// and a per-epoch schedule. Writes <c>config.json</c> (the ViDT flags) first and, after the last epoch,
/// <c>checkpoint.pth</c> in ViDT's layout (loadable by PyTorch's ViDT and by <see cref="VidtCheckpoint"/>).
/// </summary>
public static class DetectionTraining
{
    /// <summary>Name of the ViDT-layout checkpoint written after the run.</summary>
    public const string VidtCheckpointFile = "checkpoint.pth";

    /// <summary>Runs (or resumes) a run.</summary>
    /// <param name="options">The run.</param>
    /// <param name="observer">Progress receiver.</param>
    /// <param name="sync">Gradient sync; null: MPI when <c>mpirun</c> started several processes
    /// (<see cref="DataParallel.FromEnvironment"/>, as classification's <c>TrainingSession</c>), else one process.</param>
    /// <param name="stopAfterSteps">Test hook: stop like a crash after this many steps.</param>
    /// <param name="stop">Stops at the next step boundary with the position saved.</param>
    public static DetectionTrainingResult Run(DetectionTrainingOptions options, ITrainingObserver? observer = null, IGradientSync? sync = null,
        long? stopAfterSteps = null, CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        observer ??= NullTrainingObserver.Instance;
        return DataParallel.RunInJob(sync, job => RunOn(options, job.IsMain ? observer : NullTrainingObserver.Instance, job, stopAfterSteps, stop));
    }

    private static DetectionTrainingResult RunOn(DetectionTrainingOptions options, ITrainingObserver observer, IGradientSync sync,
        long? stopAfterSteps, CancellationToken stop)
    {
        options.Validate();
        if (options.Threads > 0)
        {
            set_num_threads(options.Threads);
        }
        var device = TrainingDevice.Resolve(options.Device);
        var layout = DetectionDataLayout.Resolve(options.CocoPath);
        var trainGt = CocoDataset.Load(layout.TrainAnnotations);
        var valGt = CocoDataset.Load(layout.ValAnnotations);
        CheckCategories(trainGt, options.Model.NumClasses);
        CheckCategories(valGt, options.Model.NumClasses);

        // The student's initial weights depend only on the seed (every rank builds the same model, as DDP's broadcast
        // makes ViDT's ranks start equal); VkD builds its projectors after the model.
        random.manual_seed(options.Seed);
        var student = new VidtDetector(options.Model);
        VidtDetector? teacher = null;
        FeatureDistiller? distiller = null;
        try
        {
            if (!DetectionTrainingOptions.IsNone(options.PreTrained))
            {
                var report = SwinPretrainedWeights.Load(student.Backbone, options.PreTrained!);
                observer.OnMessage($"Initialised the backbone from {options.PreTrained}: {report.Describe()}.");
            }
            if (options.Distillation != DetectionDistillation.None)
            {
                // The projectors right after the student, so their initial weights depend on the seed only (building the
                // teacher draws from the same generator).
                distiller = options.Distillation == DetectionDistillation.Vkd
                    ? VidtDistillation.CreateVkd(options.DistilLossCoef, options.Model.HiddenDim, options.Model.NumFeatureLevels)
                    : VidtDistillation.CreateTokenMatching(options.DistilLossCoef, options.Model.NumFeatureLevels, options.Model.DecLayers + 1);
                (teacher, var teacherReport) = VidtCheckpoint.LoadModel(options.DistilModelPath!, null, options.TeacherNHeads, options.TeacherDecNPoints);
                CheckTeacher(teacher.Config, options, options.DistilModelPath!);
                observer.OnMessage($"Teacher {options.DistilModelPath}: {teacherReport.Describe()}.");
            }
            student.to(device);
            teacher?.to(device);
            distiller?.to(device);

            var train = new DetectionBatchSource(new CocoDetectionDataset(trainGt, layout.TrainImages, VidtTransforms.TrainAtSize(options.TrainSize)),
                options.BatchSize, options.Seed, sync.Rank, sync.WorldSize, prefetch: options.NumWorkers > 0, subset: options.TrainSubset);
            var eval = new DetectionEvalSet(valGt, layout.ValImages, options.EvalSize, options.EvalBatchSize, options.EvalSubset);
            var task = CreateTask(options, student, teacher, distiller, eval, device, sync);
            // The task owns the teacher and the distiller from here on.
            teacher = null;
            distiller = null;
            using (task)
            {
                foreach (var line in Banner(options, task, train, eval, device, sync))
                {
                    observer.OnMessage(line);
                }
                var loopOptions = LoopOptions(options, task.ModelName);
                var arguments = options.Arguments.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
                var metadata = new Dictionary<string, object?>
                {
                    ["command"] = task.Teacher is null ? "detect train" : "detect distill",
                    ["teacher"] = options.DistilModelPath,
                    ["distillation"] = options.Distillation.ToString().ToLowerInvariant(),
                    ["dataset"] = options.CocoPath,
                    ["num_classes"] = (long)options.Model.NumClasses,
                    ["mean"] = DetectionExample.ImageNetMean.Select(v => (double)v).ToList(),
                    ["std"] = DetectionExample.ImageNetStd.Select(v => (double)v).ToList(),
                    ["class_names"] = trainGt.Categories.OrderBy(c => c.Id).Select(c => c.Name).ToList(),
                    ["category_ids"] = trainGt.Categories.OrderBy(c => c.Id).Select(c => c.Id).ToList(),
                    ["vidt_args"] = arguments,
                };
                if (sync.IsMain && options.OutputDir.Length > 0)
                {
                    Directory.CreateDirectory(options.OutputDir);
                    AtomicFile.WriteAllText(Path.Combine(options.OutputDir, RunFiles.ConfigJson),
                        JsonSerializer.Serialize(new SortedDictionary<string, object?>(arguments, StringComparer.Ordinal), new JsonSerializerOptions { WriteIndented = true }));
                }
                var profile = new StepProfile();
                var loop = new TrainingLoop<DetectionBatch>(new LoopSetup<DetectionBatch>
                {
                    Profile = profile,
                    Task = task,
                    Train = train,
                    Options = loopOptions,
                    Sync = sync,
                    Observer = observer,
                    StopAfterSteps = stopAfterSteps,
                    Stop = stop,
                    EvalCount = options.EvalSubset > 0 ? Math.Min(options.EvalSubset, valGt.Images.Count) : valGt.Images.Count,
                    Metadata = metadata,
                });
                var result = loop.Run();
                if (profile.Steps > 0)
                {
                    observer.OnMessage(profile.Describe());
                }
                string? vidtPath = null;
                if (result.Completed && sync.IsMain && options.OutputDir.Length > 0)
                {
                    vidtPath = Path.Combine(options.OutputDir, VidtCheckpointFile);
                    VidtCheckpoint.Save(student, vidtPath, epoch: options.Epochs - 1, new Dictionary<string, object?> { ["args"] = arguments });
                }
                return new DetectionTrainingResult(result, vidtPath);
            }
        }
        finally
        {
            teacher?.Dispose();
            distiller?.Dispose();
            student.Dispose();
        }
    }

    /// <summary>The loop's options for a run: ViDT's epochs, rate, clipping and seed, a per-epoch schedule (the task
    /// applies ViDT's lag), and the files.</summary>
    public static TrainingOptions LoopOptions(DetectionTrainingOptions o, string modelName)
    {
        ArgumentNullException.ThrowIfNull(o);
        return new TrainingOptions
        {
            StudentModel = modelName,
            Teacher = o.DistilModelPath ?? "",
            DataPath = o.CocoPath,
            DataSet = "coco",
            InputSize = o.TrainSize,
            BatchSize = o.BatchSize,
            NumWorkers = o.NumWorkers,
            TrainSubset = o.TrainSubset,
            EvalSubset = o.EvalSubset,
            Epochs = o.Epochs,
            Lr = o.Lr,
            MinLr = o.MinLr,
            WarmupEpochs = 0,
            WeightDecay = o.WeightDecay,
            ClipGrad = o.ClipMaxNorm,
            Opt = "adamw",
            Mixup = 0,
            Cutmix = 0,
            Smoothing = 0,
            Alpha = o.Distillation == DetectionDistillation.None ? 0 : o.DistilLossCoef,
            Gamma = 0,
            Seed = o.Seed,
            OutputDir = o.OutputDir,
            Resume = o.Resume,
            EvalEvery = o.EvalEvery,
            SaveEvery = o.SaveEvery,
            SaveEveryIters = o.SaveEveryIters,
            Threads = o.Threads,
            Device = o.Device,
            ScheduleUnit = "epoch",
            ScheduleLagEpochs = 1,
        };
    }

    /// <summary>The detection task of a run as <see cref="Run"/> builds it: ViDT's matcher and set criterion, the
    /// optimiser and schedule from <paramref name="options"/>. The task takes ownership of the teacher and distiller.</summary>
    /// <param name="options">The run's options (costs, loss weights, learning rates, epochs).</param>
    /// <param name="student">The detector trained.</param>
    /// <param name="teacher">The frozen teacher, or null.</param>
    /// <param name="distiller">The distillation terms, or null.</param>
    /// <param name="eval">The evaluation images, or null.</param>
    /// <param name="device">Where the run computes (CPU when null).</param>
    /// <param name="sync">Gradient and box-count sync of a data-parallel run, or null.</param>
    public static DetectionTask CreateTask(DetectionTrainingOptions options, VidtDetector student, VidtDetector? teacher, FeatureDistiller? distiller,
        DetectionEvalSet? eval = null, Device? device = null, IGradientSync? sync = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var criterion = new SetCriterion(new HungarianMatcher(options.MatcherCosts.Class, options.MatcherCosts.Bbox, options.MatcherCosts.Giou, options.FocalAlpha),
            options.LossWeights, options.Model.NumClasses, options.FocalAlpha, boxCountSync: sync);
        return new DetectionTask(new DetectionTaskSetup
        {
            Student = student,
            StudentName = options.ModelName ?? ModelNameOf(options.Model),
            Teacher = teacher,
            Distiller = distiller,
            Criterion = criterion,
            AuxLoss = options.AuxLoss,
            Lr = options.Lr,
            MinLr = options.MinLr,
            Epochs = options.Epochs,
            WeightDecay = options.WeightDecay,
            Eval = eval,
            Device = device ?? CPU,
            Sync = sync ?? SingleProcessGradientSync.Instance,
        });
    }

    /// <summary>ViDT's name of a detector: <c>vidt_</c> and the backbone size (<c>vidt_nano</c>), or <c>vidt</c>.</summary>
    public static string ModelNameOf(VidtConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var backbone = VidtCheckpoint.BackboneName(config.Backbone);
        return backbone is null ? "vidt" : "vidt_" + backbone["swin_".Length..].Replace("_win7_22k", "", StringComparison.Ordinal);
    }

    /// <summary>What the run is about to do, printed before the first step.</summary>
    public static IReadOnlyList<string> Banner(DetectionTrainingOptions o, DetectionTask task, DetectionBatchSource train, DetectionEvalSet eval,
        Device device, IGradientSync sync)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(eval);
        ArgumentNullException.ThrowIfNull(sync);
        static string Millions(long n) => string.Create(CultureInfo.InvariantCulture, $"{n / 1e6:F2}M");
        static string Describe(VidtConfig c) => string.Create(CultureInfo.InvariantCulture,
            $"{VidtCheckpoint.BackboneName(c.Backbone) ?? $"Swin C={c.Backbone.EmbedDim}"}, {c.Backbone.DetTokenNum} [DET], {c.NumClasses} classes, {c.DecLayers} decoder layers, " +
            $"{(c.WithBoxRefine ? "box refine" : "shared heads")}");
        var lines = new List<string>
        {
            $"student {task.ModelName}: {Describe(task.Student.Config)}; {Millions(task.Student.parameters().Sum(p => p.numel()))} parameters" +
            (DetectionTrainingOptions.IsNone(o.PreTrained) ? ", random init" : $", backbone from {o.PreTrained}"),
        };
        if (task.Teacher is not null)
        {
            lines.Add($"teacher {o.DistilModelPath}: {Describe(task.Teacher.Config)}; {Millions(task.Teacher.parameters().Sum(p => p.numel()))} parameters, eval mode, no autograd, the same padded batch");
        }
        lines.Add("loss terms: " + string.Join(" + ", task.TermNames.Where(n => n != DetectionTask.ClassErrorTerm)) +
            (task.Distiller is { } d ? string.Concat(d.Projectors.Select(kv => $"; {kv.Key} {kv.Value.GetType().Name} {kv.Value.InFeatures}->{kv.Value.OutFeatures}")) : "") +
            "; class_error logged");
        var groups = task.ParameterGroups;
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"AdamW lr {o.Lr:G4} (every group), weight decay {o.WeightDecay:G4}: {string.Join(", ", groups.Select(g => $"{g.Name} {g.Parameters.Count} tensors wd {g.WeightDecay:G4}"))}; " +
            $"clip {o.ClipMaxNorm:G4}; per-epoch cosine to {o.MinLr:G4} with ViDT's one-epoch lag, {o.Epochs} epochs"));
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"data {o.CocoPath}: {train.Count} training images ({train.BatchesPerEpoch} batches of {o.BatchSize}, train scales {string.Join("/", VidtTransforms.ScalesAtSize(o.TrainSize))}), " +
            $"{(eval.MaxImages > 0 ? Math.Min(eval.MaxImages, eval.GroundTruth.Images.Count) : eval.GroundTruth.Images.Count)} val images at {o.EvalSize} px, {eval.GroundTruth.Categories.Count} categories"));
        lines.Add($"device {device}, {(o.Threads > 0 ? o.Threads : get_num_threads())} threads, {sync.WorldSize} process(es), effective batch {o.BatchSize * sync.WorldSize}, {VkD.Training.Native.RetainingAllocator.Active()}");
        return lines;
    }

    private static string Describe(VkD.Models.Swin.SwinRamConfig c) => string.Create(CultureInfo.InvariantCulture,
        $"Swin embed_dim {c.EmbedDim}, depths {string.Join("-", c.Depths)}, heads {string.Join("-", c.NumHeads)}");

    private static void CheckCategories(CocoDataset gt, int numClasses)
    {
        var top = gt.Categories.Count == 0 ? -1 : gt.Categories.Max(c => c.Id);
        if (top >= numClasses || gt.Categories.Any(c => c.Id < 0))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{gt.Source}: category ids go up to {top}, but the model has {numClasses} classes (ViDT's labels are the raw ids, so --num_classes must exceed the largest)."));
        }
    }

    private static void CheckTeacher(VidtConfig teacher, DetectionTrainingOptions o, string path)
    {
        var student = o.Model;
        if (o.TeacherName is { } name)
        {
            var found = ModelNameOf(teacher);
            if (found != name)
            {
                throw new ArgumentException($"--distil_model {name}, but the teacher {path} is a {found} ({Describe(teacher.Backbone)}); " +
                    $"pass --distil_model {(found == "vidt" ? "vkd" : found)}, or vkd / vidt to take the checkpoint's backbone.");
            }
        }
        void Same(string what, int t, int s, string flag)
        {
            if (t != s)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"The teacher {path} has {t} {what} and the student {s}: ViDT's distillation matches them one to one ({flag})."));
            }
        }
        Same("neck/decoder channels", teacher.HiddenDim, student.HiddenDim, "--reduced_dim");
        Same("[DET] tokens", teacher.Backbone.DetTokenNum, student.Backbone.DetTokenNum, "--det_token_num");
        Same("decoder layers", teacher.DecLayers, student.DecLayers, "--dec_layers");
    }
}
