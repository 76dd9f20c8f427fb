using TorchSharp;
using VkD.Distillation.Distiller;
using VkD.Distillation.Losses;
using VkD.Distillation.Teachers;
using VkD.Models;
using VkD.Training.Evaluation;
using VkD.Training.Loop;
using VkD.Training.Optim;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Training.Tasks;

/// <summary>How a <see cref="ClassificationTask"/> is set up; what it does not get from here it builds itself.</summary>
public sealed class ClassificationTaskSetup
{
    /// <summary>The model being trained.</summary>
    public required ClassifierModel Student { get; init; }

    /// <summary>Zoo name of the student (recorded in checkpoints and the summary).</summary>
    public required string StudentName { get; init; }

    /// <summary>The frozen teacher (null: supervised training). The task takes ownership.</summary>
    public ITeacher? Teacher { get; init; }

    /// <summary>The loss terms (null: cross-entropy alone). <see cref="DistillationLoss"/> is the reference's
    /// CE + KD + one feature pair; any <see cref="FeatureDistiller"/> works. The task takes ownership.</summary>
    public FeatureDistiller? Distiller { get; init; }

    /// <summary>Label smoothing of the supervised cross-entropy (with a distiller, its <c>ce</c> term's applies).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Builds a fresh instance of the student's architecture, for the EMA copy.</summary>
    public Func<ClassifierModel>? CreateEmaModel { get; init; }

    /// <summary>Evaluation batches (null: no evaluation).</summary>
    public IBatchSource? Eval { get; init; }

    /// <summary>Mixup/CutMix (null: off).</summary>
    public IBatchMixer? Mixer { get; init; }

    /// <summary>Student features tapped by module path, added to the student's <see cref="FeatureSet"/>.</summary>
    public IReadOnlyList<string> StudentTaps { get; init; } = [];

    /// <summary>Teacher features tapped by module path (a zoo teacher only).</summary>
    public IReadOnlyList<string> TeacherTaps { get; init; } = [];

    /// <summary>AdamW learning rate (the schedule overrides it every step), weight decay and epsilon.</summary>
    public double Lr { get; init; } = 5e-4;

    /// <summary>Weight decay of the decayed group.</summary>
    public double WeightDecay { get; init; } = 0.05;

    /// <summary>AdamW epsilon.</summary>
    public double OptEps { get; init; } = 1e-8;

    /// <summary>Optimiser: <c>adamw</c>, <c>sgd</c> (Nesterov) or <c>momentum</c>.</summary>
    public string Optimizer { get; init; } = "adamw";

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Put the projectors back into weight decay, as the released code does.</summary>
    public bool ReleasedProjectorDecay { get; init; }

    /// <summary>Device of the run.</summary>
    public Device Device { get; init; } = CPU;

    /// <summary>Side of the images the student gets; a training batch of another size is resized to it (antialiased
    /// bilinear). 0: the batch as it comes.</summary>
    public int StudentInputSize { get; init; }

    /// <summary>Side of the images the teacher gets, resized the same way. 0: the batch as it comes.</summary>
    public int TeacherInputSize { get; init; }

    /// <summary>Records and replays the teacher's outputs per (augmentation draw, image) (null: the teacher runs every
    /// step). Needs batches made with the cache's draws (<c>augmentationDraws</c> of the loader), no mixing and no
    /// teacher taps. The task takes ownership.</summary>
    public TeacherOutputCache? TeacherCache { get; init; }
}

/// <summary>
/// Image classification as a task of the one loop: <c>vkd train</c> (cross-entropy alone, no teacher) and
/// <c>vkd distill</c> (the frozen teacher on the same mixed batch, then the distiller's terms). The student and the
/// distiller's projectors are one checkpoint entry, <c>student</c>, as the reference's <c>student.projector</c>; the EMA
/// copy is <c>student_ema</c>; the best epoch is the one with the highest top-1.
/// </summary>
public sealed class ClassificationTask : ITrainingTask<Batch>, IDisposable
{
    /// <summary>Side of the images the teacher gets (0: the batch's).</summary>
    public int TeacherInputSize => _s.TeacherInputSize;

    private static readonly string[] SupervisedTerms = ["ce", "kd", "repr"];
    private readonly ClassificationTaskSetup _s;
    private readonly ITrainingOptimizer _optimizer;
    private readonly ModuleTaps? _studentTaps;
    private readonly ModuleTaps? _teacherTaps;

    /// <summary>Creates the task and its optimiser (timm's no-decay groups; orthogonal projectors out of decay).</summary>
    public ClassificationTask(ClassificationTaskSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _s = setup;
        if (setup.Distiller is not null && setup.Distiller.NeedsTeacher && setup.Teacher is null)
        {
            throw new ArgumentException("The distiller's terms need a teacher, but none was given.");
        }
        var named = setup.Student.named_parameters().Select(p => (p.name, p.parameter));
        if (setup.Distiller is not null)
        {
            named = named.Concat(setup.Distiller.named_parameters().Select(p => (p.name, p.parameter)));
        }
        var exempt = setup.ReleasedProjectorDecay || setup.Distiller is null ? null : setup.Distiller.WeightDecayExempt();
        var groups = WeightDecayGroups.Build(named, setup.WeightDecay, exempt);
        _optimizer = setup.Optimizer.ToLowerInvariant() switch
        {
            "adamw" => new AdamWOptimizer(groups, setup.Lr, eps: setup.OptEps),
            "sgd" => new MomentumSgd(groups, setup.Lr, setup.Momentum, nesterov: true),
            "momentum" => new MomentumSgd(groups, setup.Lr, setup.Momentum, nesterov: false),
            _ => throw new ArgumentException($"--opt {setup.Optimizer}: use adamw, sgd (Nesterov momentum) or momentum."),
        };
        Optimizers = [new TaskOptimizer("optimizer", _optimizer)];
        CheckpointParts = [new CheckpointPart("student", setup.Distiller is null ? [setup.Student] : [setup.Student, setup.Distiller])];
        if (setup.StudentTaps.Count > 0)
        {
            _studentTaps = new ModuleTaps(setup.Student, setup.StudentTaps);
        }
        if (setup.TeacherCache is not null && setup.Mixer is not null)
        {
            throw new ArgumentException("--teacher-cache replays the teacher's outputs per image, but Mixup/CutMix mixes images differently every epoch: pass --mixup 0 --cutmix 0 (or --mixup-prob 0), or drop --teacher-cache.");
        }
        if (setup.TeacherCache is not null && setup.TeacherTaps.Count > 0)
        {
            throw new ArgumentException($"--teacher-cache keeps the teacher's logits and pooled features, but this method also reads the teacher's inner maps ({string.Join(", ", setup.TeacherTaps)}), which are not cached: drop --teacher-cache for it.");
        }
        if (setup.TeacherTaps.Count > 0)
        {
            _teacherTaps = setup.Teacher is ModelTeacher mt
                ? new ModuleTaps(mt.Model, setup.TeacherTaps)
                : throw new ArgumentException("Teacher taps need a zoo (TorchSharp) teacher; an ONNX teacher gives its named outputs only.");
        }
    }

    /// <summary>The student.</summary>
    public ClassifierModel Student => _s.Student;

    /// <summary>The teacher, if any.</summary>
    public ITeacher? Teacher => _s.Teacher;

    /// <summary>The distiller, if any.</summary>
    public FeatureDistiller? Distiller => _s.Distiller;

    /// <summary>The teacher-output cache, if any.</summary>
    public TeacherOutputCache? TeacherCache => _s.TeacherCache;

    /// <summary>True when steps run the teacher (some term that reads it has a non-zero weight).</summary>
    public bool UsesTeacher => _s.Teacher is not null && _s.Distiller is not null && _s.Distiller.NeedsTeacher;

    /// <inheritdoc />
    public string ModelName => _s.StudentName;

    /// <inheritdoc />
    public IReadOnlyList<string> TermNames => _s.Distiller?.TermNames ?? SupervisedTerms;

    /// <inheritdoc />
    public IReadOnlyList<string> MetricNames { get; } = ["acc1", "acc5", "loss"];

    /// <inheritdoc />
    public string BestMetric => "acc1";

    /// <inheritdoc />
    public bool HigherIsBetter => true;

    /// <inheritdoc />
    public IReadOnlyList<TaskOptimizer> Optimizers { get; }

    /// <inheritdoc />
    public IReadOnlyList<CheckpointPart> CheckpointParts { get; }

    /// <inheritdoc />
    public (nn.Module Source, Func<nn.Module> CreateCopy, string Entry)? EmaTarget =>
        ((nn.Module)_s.Student, CreateEmaCopy, "student_ema");

    /// <inheritdoc />
    public IEmaSchedule? EmaSchedule => null;

    private nn.Module CreateEmaCopy() =>
        (_s.CreateEmaModel ?? throw new InvalidOperationException("--student-ema needs CreateEmaModel."))().to(_s.Device);

    /// <inheritdoc />
    public nn.Module FinalModel => _s.Student;

    /// <inheritdoc />
    public bool HasEvaluation => _s.Eval is not null;

    /// <inheritdoc />
    public void SetTraining(bool training)
    {
        _s.Student.train(training);
        _s.Distiller?.train(training);
    }

    /// <inheritdoc />
    public int BatchSize(Batch batch) => (int)batch.Images.shape[0];

    /// <inheritdoc />
    public LossTerms ComputeLoss(int phase, Batch batch, StepContext context)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(context);
        var images = batch.Images.On(_s.Device);
        Tensor targets = batch.Labels.On(_s.Device);
        if (_s.Mixer is not null)
        {
            (images, targets) = _s.Mixer.Apply(images, targets, context.SeedFor(0x5eed));
        }
        using var scope = NewDisposeScope();
        LossTerms terms;
        if (!UsesTeacher)
        {
            // vkd train (and distillation at alpha = gamma = 0) never runs the teacher, as the reference skips it.
            Tensor logits;
            using (StepProfile.Time(context.Profile, StepProfile.Student))
            {
                logits = _s.Student.forward(Resized(images, _s.StudentInputSize));
            }
            var smoothing = _s.Distiller?.Terms.OfType<CrossEntropyTerm>().FirstOrDefault()?.LabelSmoothing ?? _s.LabelSmoothing;
            var ce = targets.dtype == ScalarType.Int64
                ? ClassificationLosses.LabelSmoothingCrossEntropy(logits, targets, smoothing)
                : ClassificationLosses.SoftTargetCrossEntropy(logits, targets);
            var parts = TermNames.Select((name, i) => (name, i == 0 ? ce : zeros(Array.Empty<long>(), ce.dtype, ce.device))).ToList();
            terms = new LossTerms(parts, ce.alias());
        }
        else
        {
            FeatureSet teacher;
            using (StepProfile.Time(context.Profile, StepProfile.Teacher))
            {
                var teacherOut = _s.TeacherCache is { } cache
                    ? cache.Forward(_s.Teacher!, () => Resized(images, _s.TeacherInputSize), batch.Indices, context.Epoch)
                    : _s.Teacher!.Forward(Resized(images, _s.TeacherInputSize));
                teacher = DistillationLoss.TeacherFeatures(new TeacherOutputs(teacherOut.Logits?.On(_s.Device), teacherOut.Features.On(_s.Device)));
                _teacherTaps?.AddTo(teacher);
            }
            FeatureSet student;
            using (StepProfile.Time(context.Profile, StepProfile.Student))
            {
                var outputs = _s.Student.ForwardForDistillation(Resized(images, _s.StudentInputSize));
                student = DistillationLoss.StudentFeatures(outputs.Logits, outputs.DistillationLogits, outputs.PooledFeatures);
                _studentTaps?.AddTo(student);
            }
            using (StepProfile.Time(context.Profile, StepProfile.Loss))
            {
                terms = _s.Distiller!.Compute(new LossInputs(student, teacher, targets));
            }
        }
        foreach (var (_, t) in terms.Terms)
        {
            t.MoveToOuterDisposeScope();
        }
        terms.Total.MoveToOuterDisposeScope();
        return terms;
    }

    /// <inheritdoc />
    public MetricSet? Evaluate(nn.Module model)
    {
        if (_s.Eval is null)
        {
            return null;
        }
        var classifier = model as ClassifierModel ?? throw new ArgumentException($"Classification evaluates a ClassifierModel, got {model?.GetType().Name}.", nameof(model));
        return ToMetricSet(Evaluator.Evaluate(classifier, _s.Eval));
    }

    /// <summary>Classification metrics as the loop's <see cref="MetricSet"/>.</summary>
    public static MetricSet ToMetricSet(EvalMetrics m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new MetricSet(new Dictionary<string, double>(StringComparer.Ordinal) { ["acc1"] = m.Acc1, ["acc5"] = m.Acc5, ["loss"] = m.Loss }, m.Count);
    }

    /// <summary>The loop's <see cref="MetricSet"/> as classification metrics.</summary>
    public static EvalMetrics? ToEvalMetrics(MetricSet? m) => m is null ? null : new EvalMetrics(m["acc1"], m["acc5"], m["loss"], m.Count);

    /// <inheritdoc />
    public void Dispose()
    {
        _studentTaps?.Dispose();
        _teacherTaps?.Dispose();
        _optimizer.Dispose();
        _s.Teacher?.Dispose();
        _s.TeacherCache?.Dispose();
        _s.Distiller?.Dispose();
    }

    /// <summary>The student and the teacher may need different sides of the same augmented crop: shrinking is
    /// antialiased (as PIL's resize of the crop would be), enlarging plain bilinear.</summary>
    private static Tensor Resized(Tensor images, int size)
    {
        if (size <= 0 || (images.shape[2] == size && images.shape[3] == size))
        {
            return images;
        }
        var shrink = images.shape[2] > size;
        return nn.functional.interpolate(images, [size, size], mode: InterpolationMode.Bilinear, align_corners: false, antialias: shrink);
    }
}
