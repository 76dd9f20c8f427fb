using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// Relational knowledge distillation (Park et al., CVPR 2019; mdistiller <c>RKD</c>): the student keeps the teacher's
/// relations between the samples of a batch rather than the features themselves — the pairwise Euclidean distances,
/// each side divided by its mean non-zero distance, and the cosines of the angles formed by every triplet — both by
/// smooth L1 (beta 1): <c>distance_weight · L_d + angle_weight · L_a</c>. Features are flattened per sample, so any widths
/// pair. Defaults: weights 25 and 50, unsquared distances clamped at 1e-12.
/// </summary>
public sealed class RkdTerm : ILossTerm
{
    /// <summary>Creates the term on the named features.</summary>
    public RkdTerm(string studentFeature = FeatureNames.Pooled, string teacherFeature = FeatureNames.Pooled, double distanceWeight = 25.0,
        double angleWeight = 50.0, bool squared = false, double eps = 1e-12, double weight = 1.0, string name = "rkd")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MethodChecks.NonNegative(name, "distance weight", distanceWeight);
        MethodChecks.NonNegative(name, "angle weight", angleWeight);
        MethodChecks.NonNegative(name, "eps", eps);
        MethodChecks.NonNegative(name, "weight", weight);
        StudentFeature = studentFeature;
        TeacherFeature = teacherFeature;
        DistanceWeight = distanceWeight;
        AngleWeight = angleWeight;
        Squared = squared;
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

    /// <summary>Weight of the distance loss.</summary>
    public double DistanceWeight { get; }

    /// <summary>Weight of the angle loss.</summary>
    public double AngleWeight { get; }

    /// <summary>Squared distances instead of distances.</summary>
    public bool Squared { get; }

    /// <summary>Lower clamp of the squared distances.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = inputs.Student.Require(StudentFeature, Name);
        var teacher = inputs.RequireTeacher(Name).Require(TeacherFeature, Name);
        if (student.shape[0] != teacher.shape[0] || student.shape[0] < 2)
        {
            throw new ArgumentException($"Loss term '{Name}' relates the samples of a batch: student {MethodInputs.Shape(student.shape)} and teacher {MethodInputs.Shape(teacher.shape)} need the same batch of at least 2.");
        }
        using var scope = NewDisposeScope();
        var (distance, angle) = Parts(student, teacher, Squared, Eps);
        return (DistanceWeight * distance + AngleWeight * angle).MoveToOuterDisposeScope();
    }

    /// <summary>The distance and angle losses (unweighted) of features [B, ...].</summary>
    public static (Tensor Distance, Tensor Angle) Parts(Tensor student, Tensor teacher, bool squared = false, double eps = 1e-12)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        using var scope = NewDisposeScope();
        var s = MethodInputs.Flatten(student);
        var t = MethodInputs.Flatten(teacher.detach());
        var td = NormalisedDistances(t, squared, eps);
        var sd = NormalisedDistances(s, squared, eps);
        var distance = nn.functional.smooth_l1_loss(sd, td, nn.Reduction.Mean, 1.0);
        var angle = nn.functional.smooth_l1_loss(Angles(s), Angles(t), nn.Reduction.Mean, 1.0);
        return (distance.MoveToOuterDisposeScope(), angle.MoveToOuterDisposeScope());
    }

    private static Tensor NormalisedDistances(Tensor e, bool squared, double eps)
    {
        var norms = e.pow(2).sum(1);
        var d = (norms.unsqueeze(1) + norms.unsqueeze(0) - 2 * e.matmul(e.t())).clamp_min(eps);
        if (!squared)
        {
            d = d.sqrt();
        }
        // The diagonal is set to 0 and receives no gradient, as the reference's index assignment.
        d = d * (1.0 - eye(e.shape[0], dtype: e.dtype, device: e.device));
        return d / d.masked_select(d.gt(0)).mean();
    }

    private static Tensor Angles(Tensor e)
    {
        var differences = nn.functional.normalize(e.unsqueeze(0) - e.unsqueeze(1), p: 2, dim: 2, eps: 1e-12);
        return bmm(differences, differences.transpose(1, 2)).reshape(-1);
    }
}
