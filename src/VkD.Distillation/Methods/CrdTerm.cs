using TorchSharp;
using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// Contrastive representation distillation (Tian et al., ICLR 2020; RepDistiller <c>CRDLoss</c>): both sides'
/// features go through embedding heads (<c>embed_s</c>, <c>embed_t</c>, trained) into a 128-d unit sphere; each
/// sample's student embedding is contrasted with the teacher memory rows of itself (positive) and of K other training
/// samples (negatives), and symmetrically, by the NCE loss with the uniform noise distribution
/// <c>P_n = 1 / N</c>: <c>−(Σ log(P_pos / (P_pos + K·P_n + eps)) + Σ log(K·P_n / (P_neg + K·P_n + eps))) / B</c>, summed
/// over both anchors. The memory (<see cref="ContrastMemory"/>, registered as <c>contrast</c>) needs the dataset index
/// of every sample: the session passes each batch's indices through <see cref="BeginStep"/>. Defaults: 16384
/// negatives, NCE temperature 0.07, memory momentum 0.5, weight 0.8.
/// </summary>
public sealed class CrdTerm : nn.Module, IStepAwareTerm
{
    private IReadOnlyList<int>? _indices;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the heads and the memory for features of widths <paramref name="studentDim"/> and
    /// <paramref name="teacherDim"/> (flattened) and a training set of <paramref name="dataCount"/> samples.</summary>
    public CrdTerm(long studentDim, long teacherDim, int dataCount, int featureDim = 128, int negatives = 16384, double temperature = 0.07,
        double momentum = 0.5, double weight = 0.8, string studentFeature = FeatureNames.Pooled, string teacherFeature = FeatureNames.Pooled,
        string name = "crd") : base(name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MethodChecks.PositiveCount(name, "student width", studentDim);
        MethodChecks.PositiveCount(name, "teacher width", teacherDim);
        MethodChecks.NonNegative(name, "weight", weight);
        Name = name;
        Weight = weight;
        StudentFeature = studentFeature;
        TeacherFeature = teacherFeature;
        StudentEmbedding = new ContrastEmbedding(studentDim, featureDim);
        TeacherEmbedding = new ContrastEmbedding(teacherDim, featureDim);
        Memory = new ContrastMemory(featureDim, dataCount, negatives, temperature, momentum);
        register_module("embed_s", StudentEmbedding);
        register_module("embed_t", TeacherEmbedding);
        register_module("contrast", Memory);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Weight { get; }

    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <summary>The student's feature.</summary>
    public string StudentFeature { get; }

    /// <summary>The teacher's feature.</summary>
    public string TeacherFeature { get; }

    /// <summary>The student's embedding head.</summary>
    public ContrastEmbedding StudentEmbedding { get; }

    /// <summary>The teacher's embedding head.</summary>
    public ContrastEmbedding TeacherEmbedding { get; }

    /// <summary>The memory bank.</summary>
    public ContrastMemory Memory { get; }

    /// <inheritdoc />
    public void BeginStep(DistillationStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        _indices = step.SampleIndices;
    }

    /// <inheritdoc />
    /// <remarks>Uses the indices of the last <see cref="BeginStep"/> once: a step that was not announced fails rather
    /// than updating the memory rows of another batch.</remarks>
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = inputs.Student.Require(StudentFeature, Name);
        var teacher = inputs.RequireTeacher(Name).Require(TeacherFeature, Name);
        var indices = _indices ?? throw new InvalidOperationException(
            $"Loss term '{Name}' needs the dataset index of every sample of the batch (its memory bank has one row per training sample), but the step was not announced with BeginStep.");
        _indices = null;
        if (indices.Count != student.shape[0])
        {
            throw new ArgumentException($"Loss term '{Name}': the step has {indices.Count} sample indices for a batch of {student.shape[0]}.");
        }
        var outside = indices.Where(i => i < 0 || i >= Memory.DataCount).Take(1).ToArray();
        if (outside.Length > 0)
        {
            throw new ArgumentException($"Loss term '{Name}': sample index {outside[0]} is outside the memory bank of {Memory.DataCount} training samples.");
        }
        using var scope = NewDisposeScope();
        var index = tensor(indices.Select(i => (long)i).ToArray(), device: student.device);
        var contrast = Memory.SampleContrastIndices(index);
        return Loss(student, teacher, index, contrast).MoveToOuterDisposeScope();
    }

    /// <summary>The loss for given positives [B] and contrast indices [B, K + 1] (column 0 the positives); updates the memory.</summary>
    public Tensor Loss(Tensor student, Tensor teacher, Tensor indices, Tensor contrastIndices)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        using var scope = NewDisposeScope();
        var s = StudentEmbedding.call(student);
        var t = TeacherEmbedding.call(teacher.detach());
        var (outStudent, outTeacher) = Memory.Score(s, t, indices, contrastIndices);
        return (Nce(outStudent) + Nce(outTeacher)).MoveToOuterDisposeScope();
    }

    private Tensor Nce(Tensor scores)
    {
        const double eps = 1e-7;
        var x = scores.reshape(scores.shape[0], -1);
        var m = x.shape[1] - 1;
        var noise = m * (1.0 / Memory.DataCount);
        var positive = x.select(1, 0);
        var logPositive = (positive / (positive + (noise + eps))).log();
        var negative = x.narrow(1, 1, m);
        var logNegative = (full_like(negative, noise) / (negative + (noise + eps))).log();
        return -(logPositive.sum() + logNegative.sum()) / x.shape[0];
    }
}
