using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// Probabilistic knowledge transfer (Passalis &amp; Tefas, ECCV 2018; mdistiller <c>PKT</c>): the cosine similarities
/// between the samples of a batch, mapped to [0, 1] and normalised per row into conditional probabilities, of the
/// student match the teacher's by the mean of <c>p_t · log((p_t + eps) / (p_s + eps))</c>. Features are flattened per
/// sample, so any widths pair. Defaults: eps 1e-7, weight 30000 (mdistiller's CIFAR weight).
/// </summary>
public sealed class PktTerm : ILossTerm
{
    /// <summary>Creates the term on the named features.</summary>
    public PktTerm(string studentFeature = FeatureNames.Pooled, string teacherFeature = FeatureNames.Pooled, double eps = 1e-7,
        double weight = 30000.0, string name = "pkt")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MethodChecks.Positive(name, "eps", eps);
        MethodChecks.NonNegative(name, "weight", weight);
        StudentFeature = studentFeature;
        TeacherFeature = teacherFeature;
        Eps = eps;
        Weight = weight;
        Name = name;
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

    /// <summary>Added to norms and probabilities.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = inputs.Student.Require(StudentFeature, Name);
        var teacher = inputs.RequireTeacher(Name).Require(TeacherFeature, Name);
        if (student.shape[0] != teacher.shape[0])
        {
            throw new ArgumentException($"Loss term '{Name}': student {MethodInputs.Shape(student.shape)} and teacher {MethodInputs.Shape(teacher.shape)} must hold the same batch.");
        }
        return Loss(student, teacher, Eps);
    }

    /// <summary>The PKT loss of features [B, ...].</summary>
    public static Tensor Loss(Tensor student, Tensor teacher, double eps = 1e-7)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        using var scope = NewDisposeScope();
        var ps = Probabilities(MethodInputs.Flatten(student), eps);
        var pt = Probabilities(MethodInputs.Flatten(teacher.detach()), eps);
        return (pt * ((pt + eps) / (ps + eps)).log()).mean().MoveToOuterDisposeScope();
    }

    private static Tensor Probabilities(Tensor f, double eps)
    {
        f = f / (f.pow(2).sum(1, keepdim: true).sqrt() + eps);
        // The reference zeroes NaNs (a zero row over a zero norm cannot occur with eps > 0, but a NaN input can).
        f = where(f.isnan(), zeros_like(f), f);
        var similarity = (f.matmul(f.t()) + 1.0) / 2.0;
        return similarity / similarity.sum(1, keepdim: true);
    }
}
