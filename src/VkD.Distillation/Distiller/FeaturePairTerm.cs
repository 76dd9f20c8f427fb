using VkD.Distillation.Losses;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using static TorchSharp.torch;

namespace VkD.Distillation.Distiller;

/// <summary>
/// VkD's feature term for one pair of named features: <c>distance(N_s(P(rows(student))), N_t(rows(teacher)))</c>,
/// with P the pair's projector (one instance may serve several pairs: the distiller registers it once, under
/// <see cref="ProjectorName"/>). The teacher side is detached: the teacher is frozen and only the student and the
/// projector learn.
/// </summary>
public sealed class FeaturePairTerm : ILossTerm
{
    /// <summary>Creates the pair.</summary>
    /// <param name="name">Term name in logs.</param>
    /// <param name="studentFeature">Name of the student feature.</param>
    /// <param name="teacherFeature">Name of the teacher feature.</param>
    /// <param name="projector">The projector (d_s to d_t).</param>
    /// <param name="studentNormalization">Normalisation of the projected student rows (null: identity).</param>
    /// <param name="teacherNormalization">Normalisation of the teacher rows (null: identity).</param>
    /// <param name="distance">The distance (null: SmoothL1 with beta 1, the reference's).</param>
    /// <param name="weight">Weight (the reference's alpha).</param>
    /// <param name="rows">How both features become rows.</param>
    /// <param name="projectorName">Name the distiller registers the projector under (its state-dict prefix).</param>
    public FeaturePairTerm(string name, string studentFeature, string teacherFeature, ProjectorModule projector,
        IFeatureNormalization? studentNormalization = null, IFeatureNormalization? teacherNormalization = null,
        FeatureLoss? distance = null, double weight = 1.0, FeatureRows rows = FeatureRows.Vector, string projectorName = "projector")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(projector);
        if (!(weight >= 0) || double.IsInfinity(weight))
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"Loss term '{name}': the weight must be finite and >= 0.");
        }
        Name = name;
        StudentFeature = studentFeature;
        TeacherFeature = teacherFeature;
        Projector = projector;
        ProjectorName = projectorName;
        StudentNormalization = studentNormalization ?? new IdentityNormalization();
        TeacherNormalization = teacherNormalization ?? new IdentityNormalization();
        Distance = distance ?? new FeatureLoss();
        Weight = weight;
        Rows = rows;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Weight { get; }

    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <summary>Name of the student feature.</summary>
    public string StudentFeature { get; }

    /// <summary>Name of the teacher feature.</summary>
    public string TeacherFeature { get; }

    /// <summary>The projector.</summary>
    public ProjectorModule Projector { get; }

    /// <summary>Name the projector is registered under.</summary>
    public string ProjectorName { get; }

    /// <summary>Normalisation of the projected student rows.</summary>
    public IFeatureNormalization StudentNormalization { get; }

    /// <summary>Normalisation of the teacher rows.</summary>
    public IFeatureNormalization TeacherNormalization { get; }

    /// <summary>The distance.</summary>
    public FeatureLoss Distance { get; }

    /// <summary>Row layout of both features.</summary>
    public FeatureRows Rows { get; }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = inputs.Student.Require(StudentFeature, Name);
        var teacher = inputs.RequireTeacher(Name).Require(TeacherFeature, Name);
        var s = Rows.ToRows(student, Name, "student");
        var t = Rows.ToRows(teacher, Name, "teacher");
        var rows = student.shape[0];
        if (s.shape[1] != Projector.InFeatures)
        {
            throw new ArgumentException(Rows == FeatureRows.Vector
                ? $"Student features must be [B, d_s] = [{rows}, {Projector.InFeatures}], got [{string.Join(", ", student.shape)}]."
                : $"Loss term '{Name}': student feature '{StudentFeature}' [{string.Join(", ", student.shape)}] has {s.shape[1]} channels; the projector takes {Projector.InFeatures}.");
        }
        if (t.shape[0] != s.shape[0] || t.shape[1] != Projector.OutFeatures)
        {
            throw new ArgumentException(Rows == FeatureRows.Vector
                ? $"Teacher features must be [B, d_t] = [{rows}, {Projector.OutFeatures}], got [{string.Join(", ", teacher.shape)}]."
                : $"Loss term '{Name}': teacher feature '{TeacherFeature}' [{string.Join(", ", teacher.shape)}] gives rows [{string.Join(", ", t.shape)}]; " +
                  $"the student gives {s.shape[0]} rows and the projector outputs {Projector.OutFeatures}.");
        }
        var projected = StudentNormalization.Apply(Projector.forward(s));
        var target = TeacherNormalization.Apply(t.detach());
        return Distance.Compute(projected, target);
    }
}
