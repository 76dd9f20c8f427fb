using TorchSharp;
using VkD.Distillation.Distiller;
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
/// The VkD classification objective: <c>CE(class head) + gamma * KL(dist head || teacher logits, T) + alpha *
/// feature(N_s(projector(student features)), N_t(teacher features))</c>, i.e. the <see cref="FeatureDistiller"/> with
/// the terms <c>ce</c>, <c>kd</c> and one <see cref="FeaturePairTerm"/> <c>repr</c> on the pooled features. The projector
/// is registered as <c>projector</c>, so its state-dict keys read <c>projector.parametrizations.weight.original</c> as
/// the reference's <c>student.projector</c>; the trainer optimises <c>parameters()</c> of this module with the student.
/// </summary>
public sealed class DistillationLoss : FeatureDistiller
{
    /// <summary>Creates the loss around <paramref name="projector"/> (d_s -&gt; d_t) and the two normalisations.</summary>
    public DistillationLoss(ProjectorModule projector, IFeatureNormalization studentNormalization,
        IFeatureNormalization teacherNormalization, DistillationLossOptions? options = null)
        : base(BuildTerms(projector, studentNormalization, teacherNormalization, options ?? new DistillationLossOptions()), "DistillationLoss")
    {
        Options = options ?? new DistillationLossOptions();
        Projector = projector;
        StudentNormalization = studentNormalization;
        TeacherNormalization = teacherNormalization;
    }

    private static List<ILossTerm> BuildTerms(ProjectorModule projector, IFeatureNormalization studentNormalization,
        IFeatureNormalization teacherNormalization, DistillationLossOptions o)
    {
        ArgumentNullException.ThrowIfNull(projector);
        ArgumentNullException.ThrowIfNull(studentNormalization);
        ArgumentNullException.ThrowIfNull(teacherNormalization);
        if (!(o.Alpha >= 0) || !(o.Gamma >= 0) || double.IsInfinity(o.Alpha) || double.IsInfinity(o.Gamma))
        {
            throw new ArgumentOutOfRangeException(nameof(o), $"alpha and gamma must be finite and >= 0, got {o.Alpha}, {o.Gamma}.");
        }
        return
        [
            new CrossEntropyTerm(o.LabelSmoothing),
            new LogitKdTerm(o.Temperature, o.Gamma),
            new FeaturePairTerm("repr", FeatureNames.Pooled, FeatureNames.Pooled, projector, studentNormalization,
                teacherNormalization, new FeatureLoss(o.Feature, o.Beta), o.Alpha),
        ];
    }

    /// <summary>The classification setting of the reference: no student normalisation, teacher layer norm.</summary>
    public static DistillationLoss ForClassification(ProjectorModule projector, DistillationLossOptions? options = null) =>
        new(projector, new IdentityNormalization(), new LayerStandardization(), options);

    /// <summary>The projector (d_s -&gt; d_t).</summary>
    public ProjectorModule Projector { get; }

    /// <summary>Normalisation of the projected student features.</summary>
    public IFeatureNormalization StudentNormalization { get; }

    /// <summary>Normalisation of the teacher features.</summary>
    public IFeatureNormalization TeacherNormalization { get; }

    /// <summary>Weights and settings.</summary>
    public DistillationLossOptions Options { get; }

    /// <summary>The student's side of a classification step as a <see cref="FeatureSet"/>.</summary>
    public static FeatureSet StudentFeatures(Tensor classLogits, Tensor? distillationLogits, Tensor pooledFeatures) =>
        new FeatureSet("student").Add(FeatureNames.Logits, classLogits).Add(FeatureNames.DistillationLogits, distillationLogits)
            .Add(FeatureNames.Pooled, pooledFeatures);

    /// <summary>A teacher's outputs as a <see cref="FeatureSet"/>.</summary>
    public static FeatureSet TeacherFeatures(TeacherOutputs teacher)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        return new FeatureSet("teacher").Add(FeatureNames.Logits, teacher.Logits).Add(FeatureNames.Pooled, teacher.Features);
    }

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
        var terms = Compute(new LossInputs(StudentFeatures(classLogits, distillationLogits, studentFeatures), TeacherFeatures(teacher), targets));
        return new DistillationLossOutput(terms.Total, terms["ce"], terms["kd"], terms["repr"]);
    }
}
