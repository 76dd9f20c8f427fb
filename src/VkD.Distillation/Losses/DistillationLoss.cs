using TorchSharp;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using VkD.Distillation.Teachers;
using static TorchSharp.torch;

namespace VkD.Distillation.Losses;

/// <summary>Weights and settings of <see cref="DistillationLoss"/>.</summary>
/// <param name="Alpha">Weight of the feature (representation) term; 0 skips it.</param>
/// <param name="Gamma">Weight of the logit KL term; 0 skips it.</param>
/// <param name="Temperature">KL temperature T (the loss is multiplied by T^2).</param>
/// <param name="LabelSmoothing">Label smoothing of the cross-entropy for integer labels (soft targets carry their
/// own smoothing).</param>
/// <param name="Feature">Distance of the feature term.</param>
/// <param name="Beta">SmoothL1 beta.</param>
public sealed record DistillationLossOptions(
    double Alpha = 1.0,
    double Gamma = 1.0,
    double Temperature = 1.0,
    double LabelSmoothing = 0.0,
    FeatureLossKind Feature = FeatureLossKind.SmoothL1,
    double Beta = 1.0);

/// <summary>The loss terms of one step. Owns its tensors: dispose it (or its scope) after logging.</summary>
public sealed class DistillationLossOutput : IDisposable
{
    internal DistillationLossOutput(Tensor total, Tensor ce, Tensor kd, Tensor repr)
    {
        Total = total;
        Ce = ce;
        Kd = kd;
        Repr = repr;
    }

    /// <summary>ce + kd + repr, to call backward on.</summary>
    public Tensor Total { get; }

    /// <summary>Cross-entropy of the class head.</summary>
    public Tensor Ce { get; }

    /// <summary>gamma * KL term (0 when skipped).</summary>
    public Tensor Kd { get; }

    /// <summary>alpha * feature term (0 when skipped).</summary>
    public Tensor Repr { get; }

    /// <summary>The components as doubles keyed <c>ce</c>, <c>kd</c>, <c>repr</c>, <c>total</c>.</summary>
    public IReadOnlyDictionary<string, double> ToDoubles() => new Dictionary<string, double>
    {
        ["ce"] = Ce.to_type(ScalarType.Float64).item<double>(),
        ["kd"] = Kd.to_type(ScalarType.Float64).item<double>(),
        ["repr"] = Repr.to_type(ScalarType.Float64).item<double>(),
        ["total"] = Total.to_type(ScalarType.Float64).item<double>(),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        Total.Dispose();
        Ce.Dispose();
        Kd.Dispose();
        Repr.Dispose();
    }
}

/// <summary>
/// The VkD objective: <c>CE(class head) + gamma * KL(dist head || teacher logits, T) + alpha *
/// feature(N_s(projector(student features)), N_t(teacher features))</c>. The projector is a registered submodule named
/// <c>projector</c>, so its state-dict keys read <c>projector.parametrizations.weight.original</c> as the reference's
/// <c>student.projector</c>; the trainer optimises <c>parameters()</c> of this module with the student.
/// </summary>
public sealed class DistillationLoss : nn.Module
{
    /// <summary>Every component is registered explicitly under its PyTorch name; TorchSharp's reflection-based
    /// registration would add the C# field names as extra state-dict keys.</summary>
    protected override void RegisterComponents()
    {
    }

    private readonly ProjectorModule _projector;
    private readonly FeatureLoss _featureLoss;

    /// <summary>Creates the loss around <paramref name="projector"/> (d_s -&gt; d_t) and the two normalisations.</summary>
    public DistillationLoss(ProjectorModule projector, IFeatureNormalization studentNormalization,
        IFeatureNormalization teacherNormalization, DistillationLossOptions? options = null) : base("DistillationLoss")
    {
        ArgumentNullException.ThrowIfNull(projector);
        ArgumentNullException.ThrowIfNull(studentNormalization);
        ArgumentNullException.ThrowIfNull(teacherNormalization);
        Options = options ?? new DistillationLossOptions();
        if (Options.Alpha < 0 || Options.Gamma < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"alpha and gamma must be >= 0, got {Options.Alpha}, {Options.Gamma}.");
        }
        _projector = projector;
        StudentNormalization = studentNormalization;
        TeacherNormalization = teacherNormalization;
        _featureLoss = new FeatureLoss(Options.Feature, Options.Beta);
        register_module("projector", projector);
    }

    /// <summary>The classification setting of the reference: no student normalisation, teacher layer norm.</summary>
    public static DistillationLoss ForClassification(ProjectorModule projector, DistillationLossOptions? options = null) =>
        new(projector, new IdentityNormalization(), new LayerStandardization(), options);

    /// <summary>The projector (d_s -&gt; d_t).</summary>
    public ProjectorModule Projector => _projector;

    /// <summary>Normalisation of the projected student features.</summary>
    public IFeatureNormalization StudentNormalization { get; }

    /// <summary>Normalisation of the teacher features.</summary>
    public IFeatureNormalization TeacherNormalization { get; }

    /// <summary>Weights and settings.</summary>
    public DistillationLossOptions Options { get; }

    /// <summary>
    /// Computes the loss terms. <paramref name="targets"/> are int64 labels [B] or float soft targets [B, C];
    /// <paramref name="distillationLogits"/> null uses the class head for the KL term; teacher features are detached.
    /// </summary>
    public DistillationLossOutput Compute(Tensor classLogits, Tensor? distillationLogits, Tensor studentFeatures,
        Tensor targets, TeacherOutputs teacher)
    {
        ArgumentNullException.ThrowIfNull(classLogits);
        ArgumentNullException.ThrowIfNull(studentFeatures);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(teacher);
        var batch = classLogits.shape[0];
        using var scope = NewDisposeScope();
        var ce = targets.dtype == ScalarType.Int64
            ? ClassificationLosses.LabelSmoothingCrossEntropy(classLogits, targets, Options.LabelSmoothing)
            : ClassificationLosses.SoftTargetCrossEntropy(classLogits, targets);

        var kd = zeros(new long[0], classLogits.dtype, classLogits.device);
        if (Options.Gamma > 0)
        {
            if (teacher.Logits is null)
            {
                throw new ArgumentException(
                    $"gamma = {Options.Gamma} needs teacher logits, but the teacher gave features only; set gamma = 0 for a " +
                    "feature-only teacher.", nameof(teacher));
            }
            kd = Options.Gamma * ClassificationLosses.KlDistillation(distillationLogits ?? classLogits, teacher.Logits, Options.Temperature);
        }

        var repr = zeros(new long[0], classLogits.dtype, classLogits.device);
        if (Options.Alpha > 0)
        {
            if (studentFeatures.ndim != 2 || studentFeatures.shape[0] != batch || studentFeatures.shape[1] != _projector.InFeatures)
            {
                throw new ArgumentException(
                    $"Student features must be [B, d_s] = [{batch}, {_projector.InFeatures}], got " +
                    $"[{string.Join(", ", studentFeatures.shape)}].", nameof(studentFeatures));
            }
            var t = teacher.Features;
            if (t.ndim != 2 || t.shape[0] != batch || t.shape[1] != _projector.OutFeatures)
            {
                throw new ArgumentException(
                    $"Teacher features must be [B, d_t] = [{batch}, {_projector.OutFeatures}], got [{string.Join(", ", t.shape)}].",
                    nameof(teacher));
            }
            var s = StudentNormalization.Apply(_projector.forward(studentFeatures));
            var tn = TeacherNormalization.Apply(t.detach());
            repr = Options.Alpha * _featureLoss.Compute(s, tn);
        }
        var total = ce + kd + repr;
        return new DistillationLossOutput(total.MoveToOuterDisposeScope(), ce.MoveToOuterDisposeScope(),
            kd.MoveToOuterDisposeScope(), repr.MoveToOuterDisposeScope());
    }
}
