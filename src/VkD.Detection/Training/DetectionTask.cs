using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Detection.Models;
using VkD.Distillation.Distiller;
using VkD.Training.Distributed;
using VkD.Training.Loop;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>The COCO data a <see cref="DetectionTask"/> evaluates on after each epoch (ViDT's val pipeline).</summary>
/// <param name="GroundTruth">Val annotations.</param>
/// <param name="ImageRoot">Folder their <c>file_name</c> paths are relative to.</param>
/// <param name="EvalSize">Shortest side of the val resize (<c>--eval_size</c>).</param>
/// <param name="BatchSize">Images per padded batch.</param>
/// <param name="MaxImages">Only the first N images in id order (0: all).</param>
public sealed record DetectionEvalSet(CocoDataset GroundTruth, string ImageRoot, int EvalSize = 800, int BatchSize = 2, int MaxImages = 0);

/// <summary>How a <see cref="DetectionTask"/> is set up: ViDT's recipe by default.</summary>
public sealed class DetectionTaskSetup
{
    /// <summary>The detector being trained.</summary>
    public required VidtDetector Student { get; init; }

    /// <summary>Name recorded in checkpoints and the summary (e.g. <c>vidt_nano</c>).</summary>
    public required string StudentName { get; init; }

    /// <summary>The frozen teacher (eval mode, no autograd, the same padded batch); null: no distillation. The task
    /// takes ownership.</summary>
    public VidtDetector? Teacher { get; init; }

    /// <summary>The distillation terms on the two detectors' features (<see cref="VidtDistillation.CreateVkd"/> or
    /// <see cref="VidtDistillation.CreateTokenMatching"/>); required with a teacher. The task takes ownership.</summary>
    public FeatureDistiller? Distiller { get; init; }

    /// <summary>The set criterion (null: ViDT's, at the student's class count).</summary>
    public SetCriterion? Criterion { get; init; }

    /// <summary>ViDT's <c>--aux_loss</c>: the six intermediate predictions get the set losses too.</summary>
    public bool AuxLoss { get; init; } = true;

    /// <summary>ViDT's <c>--lr</c>, for every parameter group.</summary>
    public double Lr { get; init; } = 1e-4;

    /// <summary>ViDT's <c>--min-lr</c>.</summary>
    public double MinLr { get; init; } = 1e-7;

    /// <summary>ViDT's <c>--epochs</c> (the length of the cosine).</summary>
    public int Epochs { get; init; } = 50;

    /// <summary>ViDT's <c>--weight_decay</c> (see <see cref="VidtParameterGroups"/> for what is decayed).</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Evaluation data (null: no evaluation, so no best epoch).</summary>
    public DetectionEvalSet? Eval { get; init; }

    /// <summary>Device of the run (the models must be on it already).</summary>
    public Device Device { get; init; } = CPU;

    /// <summary>The ranks of a data-parallel run: the val set is predicted in shards and evaluated on rank 0.</summary>
    public IGradientSync Sync { get; init; } = SingleProcessGradientSync.Instance;
}

/// <summary>
/// ViDT detection as a task of the one training loop (naver-ai/vidt <c>engine.py</c> <c>train_one_epoch</c> /
/// <c>train_one_epoch_with_teacher</c>, with VkD's teacher changes): the student's outputs on the padded batch → the
/// <see cref="SetCriterion"/> (final and, with <c>--aux_loss</c>, auxiliary predictions) → with a teacher, the
/// teacher's outputs on the same batch without autograd and the distiller's terms on both detectors' features, all in
/// one <see cref="LossTerms"/>. ViDT's AdamW groups (<see cref="VidtParameterGroups"/>) at one rate; the loop applies
/// ViDT's lagged per-epoch cosine (<see cref="DetectionTraining.LoopOptions"/> sets its one-epoch lag) and clips the gradients (ViDT's
/// <c>--clip_max_norm</c> 0.1 goes into its options). The checkpoint entry <c>student</c> holds the detector and the
/// distiller's projectors under ViDT's and VkD's key names; the best epoch is the one with the highest COCO AP on the
/// val set (<see cref="VidtPostProcess"/> + <see cref="CocoEvaluator"/>). ViDT keeps no EMA copy, nor does this task.
/// </summary>
public sealed class DetectionTask : ITrainingTask<DetectionBatch>, IDisposable
{
    /// <summary>The logged statistic that rides with the loss terms: ViDT's <c>class_error</c> (100 − top-1 of the
    /// matched final predictions, percent), no gradient and not part of the total.</summary>
    public const string ClassErrorTerm = "class_error";

    /// <summary>COCO's 12 numbers, in pycocotools' order: every evaluation's metrics.</summary>
    public static IReadOnlyList<string> CocoMetricNames { get; } = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"];

    private readonly DetectionTaskSetup _s;
    private readonly SetCriterion _criterion;
    private readonly AdamWOptimizer _optimizer;
    private readonly string[] _termNames;
    private readonly ScalarType _dtype;

    /// <summary>Creates the task and its optimiser.</summary>
    /// <exception cref="ArgumentException">A teacher without a distiller, a distiller whose terms read a missing
    /// teacher, or a criterion for another class count.</exception>
    public DetectionTask(DetectionTaskSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        if (setup.Teacher is not null && setup.Distiller is null)
        {
            throw new ArgumentException("A teacher needs a distiller (VidtDistillation.CreateVkd or CreateTokenMatching).");
        }
        if (setup.Distiller is not null && setup.Distiller.NeedsTeacher && setup.Teacher is null)
        {
            throw new ArgumentException("The distiller's terms read the teacher, but no teacher was given.");
        }
        _s = setup;
        _criterion = setup.Criterion ?? new SetCriterion(numClasses: setup.Student.Config.NumClasses);
        if (_criterion.NumClasses != setup.Student.Config.NumClasses)
        {
            throw new ArgumentException($"The criterion is built for {_criterion.NumClasses} classes, the student has {setup.Student.Config.NumClasses}.");
        }
        var predictionSets = setup.AuxLoss ? setup.Student.Config.DecLayers + 1 : 1;
        _termNames = [.. SetCriterion.TermNames(predictionSets), .. setup.Distiller?.TermNames ?? [], ClassErrorTerm];
        var groups = VidtParameterGroups.Build(setup.Student, setup.WeightDecay, setup.Distiller);
        _optimizer = new AdamWOptimizer(groups, setup.Lr);
        Optimizers = [new TaskOptimizer("optimizer", _optimizer)];
        CheckpointParts = [new CheckpointPart("student", setup.Distiller is null ? [setup.Student] : [setup.Student, setup.Distiller])];
        setup.Teacher?.eval();
        _dtype = setup.Student.parameters().First().dtype;
    }

    /// <summary>The student.</summary>
    public VidtDetector Student => _s.Student;

    /// <summary>The teacher, if any.</summary>
    public VidtDetector? Teacher => _s.Teacher;

    /// <summary>The distiller, if any.</summary>
    public FeatureDistiller? Distiller => _s.Distiller;

    /// <summary>The criterion.</summary>
    public SetCriterion Criterion => _criterion;

    /// <summary>The optimiser (ViDT's AdamW groups; the loop sets its rate).</summary>
    public AdamWOptimizer Optimizer => _optimizer;

    /// <summary>The AdamW parameter groups.</summary>
    public IReadOnlyList<ParameterGroup> ParameterGroups => _optimizer.Groups;

    /// <inheritdoc />
    public string ModelName => _s.StudentName;

    /// <inheritdoc />
    /// <remarks>The criterion's terms (<c>loss_ce</c>, <c>loss_bbox</c>, <c>loss_giou</c>, then the auxiliary ones), the
    /// distiller's, then <see cref="ClassErrorTerm"/>.</remarks>
    public IReadOnlyList<string> TermNames => _termNames;

    /// <inheritdoc />
    /// <remarks>AP, AP50 and AP75 (pycocotools' scale, 0 to 1) are the per-epoch columns; the evaluation's
    /// <see cref="MetricSet"/> carries all 12 numbers (in the summary and the checkpoints).</remarks>
    public IReadOnlyList<string> MetricNames { get; } = ["AP", "AP50", "AP75"];

    /// <inheritdoc />
    public string BestMetric => "AP";

    /// <inheritdoc />
    public bool HigherIsBetter => true;

    /// <inheritdoc />
    public IReadOnlyList<TaskOptimizer> Optimizers { get; }

    /// <inheritdoc />
    public IReadOnlyList<CheckpointPart> CheckpointParts { get; }

    /// <inheritdoc />
    public (nn.Module Source, Func<nn.Module> CreateCopy, string Entry)? EmaTarget => null;

    /// <inheritdoc />
    public IEmaSchedule? EmaSchedule => null;

    /// <inheritdoc />
    public nn.Module FinalModel => _s.Student;

    /// <inheritdoc />
    public bool HasEvaluation => _s.Eval is not null;

    /// <inheritdoc />
    public void SetTraining(bool training)
    {
        _s.Student.train(training);
        _s.Distiller?.train(training);
        _s.Teacher?.eval();
    }

    /// <inheritdoc />
    public int BatchSize(DetectionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Examples.Count;
    }

    /// <inheritdoc />
    public LossTerms ComputeLoss(int phase, DetectionBatch batch, StepContext context)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(context);
        using var scope = NewDisposeScope();
        var device = _s.Device;
        // A float64 student (a parity check) gets the batch in float64; the loader's batches are float32.
        var images = batch.Images.to(_dtype, device);
        var mask = batch.Mask.to(device);
        var targets = batch.Examples.Select(e => new BoxTargets(e.Labels.to(device), e.Boxes.to(_dtype, device))).ToList();
        var outputs = _s.Student.forward(images, mask);
        var set = _criterion.Compute(outputs, targets, _s.AuxLoss);
        var joined = set.Losses;
        if (_s.Distiller is not null)
        {
            FeatureSet? teacherFeatures = null;
            if (_s.Teacher is not null)
            {
                using var noGrad = no_grad();
                teacherFeatures = VidtDistillation.AddFeatures(new FeatureSet("teacher"), _s.Teacher.forward(images, mask));
            }
            var distil = _s.Distiller.Compute(new LossInputs(VidtDistillation.AddFeatures(new FeatureSet("student"), outputs), teacherFeatures, null));
            joined = LossTermsConcatenation.Concat(set.Losses, distil);
        }
        var classError = tensor(set.Logged[ClassErrorTerm], ScalarType.Float32, device);
        var terms = joined.Terms.Append((ClassErrorTerm, classError)).Select(t => (t.Item1, t.Item2.MoveToOuterDisposeScope())).ToList();
        return new LossTerms(terms, joined.Total.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public MetricSet? Evaluate(nn.Module model)
    {
        if (_s.Eval is not { } eval)
        {
            return null;
        }
        var detector = model as VidtDetector ?? throw new ArgumentException($"Detection evaluates a VidtDetector, got {model?.GetType().Name}.", nameof(model));
        var sync = _s.Sync;
        // Each rank predicts its whole batches; the detections come back in the single process's order, so rank 0's COCO
        // evaluation is the single process's, and its 12 numbers go to the other ranks (the loop's metrics agree).
        var detections = VidtEvaluation.Predict(detector, eval.GroundTruth, eval.ImageRoot, eval.EvalSize, eval.BatchSize, eval.MaxImages, _s.Device, sync: sync);
        var images = eval.MaxImages > 0 ? Math.Min(eval.MaxImages, eval.GroundTruth.Images.Count) : eval.GroundTruth.Images.Count;
        if (sync.WorldSize == 1)
        {
            return ToMetricSet(VidtEvaluation.Evaluate(eval.GroundTruth, detections, eval.MaxImages), images);
        }
        var main = sync.IsMain ? ToMetricSet(VidtEvaluation.Evaluate(eval.GroundTruth, detections, eval.MaxImages), images) : null;
        using var numbers = main is null ? zeros(CocoMetricNames.Count, ScalarType.Float64)
            : tensor(CocoMetricNames.Select(n => main[n]).ToArray(), ScalarType.Float64);
        sync.BroadcastFromMain([numbers]);
        var values = numbers.data<double>().ToArray();
        return main ?? new MetricSet(CocoMetricNames.Select((name, i) => (name, values[i])).ToDictionary(p => p.name, p => p.Item2, StringComparer.Ordinal), images);
    }

    /// <summary>COCO's 12 numbers as the loop's <see cref="MetricSet"/>, named as <see cref="CocoMetricNames"/>.</summary>
    public static MetricSet ToMetricSet(CocoEvalResult result, int images)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new MetricSet(result.Summary.ToDictionary(s => s.Name, s => s.Value, StringComparer.Ordinal), images);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _s.Teacher?.Dispose();
        _s.Distiller?.Dispose();
    }
}
