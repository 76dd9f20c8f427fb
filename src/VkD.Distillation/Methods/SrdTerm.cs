using TorchSharp;
using TorchSharp.Modules;
using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// SRD, the VkD authors' earlier "simple recipe" (Miles &amp; Mikolajczyk, AAAI 2024, "Understanding the role of the
/// projector in knowledge distillation"; roymiles/Simple-Recipe-Distillation <c>deit/models.py DistillationLoss</c>):
/// the student's pooled features go through a linear projector with bias (<c>embed</c>, d_s → d_t); both sides are
/// batch-standardised per dimension (BatchNorm1d without affine in training mode: batch mean, biased variance, eps 0);
/// the per-dimension cross-correlation <c>c_j = mean_b ŝ_bj t̂_bj</c> is pushed to 1 by
/// <c>log(Σ_j |c_j − 1|⁴ + 1e-5)</c>. The recipe adds it, weight 1, to the cross-entropy and logit KD (T = 1), which
/// are the distiller's <c>ce</c> and <c>kd</c> terms. Maps [B, C, H, W] and tokens [B, N, D] are average-pooled first, as
/// the recipe pools its teacher map and student tokens.
/// </summary>
public sealed class SrdTerm : nn.Module, ILossTerm
{
    private readonly Linear _embed;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the term with a projector from <paramref name="studentDim"/> to <paramref name="teacherDim"/>.</summary>
    public SrdTerm(long studentDim, long teacherDim, double weight = 1.0, double bnEps = 0.0, double logEps = 1e-5,
        string studentFeature = FeatureNames.Pooled, string teacherFeature = FeatureNames.Pooled, string name = "srd") : base(name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MethodChecks.PositiveCount(name, "student width", studentDim);
        MethodChecks.PositiveCount(name, "teacher width", teacherDim);
        MethodChecks.NonNegative(name, "weight", weight);
        MethodChecks.NonNegative(name, "bn_eps", bnEps);
        MethodChecks.NonNegative(name, "log_eps", logEps);
        Name = name;
        Weight = weight;
        BnEps = bnEps;
        LogEps = logEps;
        StudentFeature = studentFeature;
        TeacherFeature = teacherFeature;
        _embed = nn.Linear(studentDim, teacherDim);
        register_module("embed", _embed);
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

    /// <summary>Added to the batch variance (0 in the recipe; a dead channel then gives NaN, which the loop reports).</summary>
    public double BnEps { get; }

    /// <summary>Added inside the logarithm.</summary>
    public double LogEps { get; }

    /// <summary>The projector (<c>embed</c>).</summary>
    public Linear Projector => _embed;

    /// <summary>Pooled [B, D] of a vector, token sequence or map.</summary>
    public static Tensor Pool(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return x.ndim switch
        {
            2 => x,
            3 => x.mean([1]),
            4 => x.flatten(2).mean([2]),
            _ => throw new ArgumentException($"SRD pools vectors [B, D], tokens [B, N, D] or maps [B, C, H, W], got {MethodInputs.Shape(x.shape)}."),
        };
    }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        using var scope = NewDisposeScope();
        var student = Pool(inputs.Student.Require(StudentFeature, Name));
        var teacher = Pool(inputs.RequireTeacher(Name).Require(TeacherFeature, Name));
        if (student.shape[1] != _embed.in_features || teacher.shape[1] != _embed.out_features || student.shape[0] != teacher.shape[0])
        {
            throw new ArgumentException(
                $"Loss term '{Name}': its projector maps {_embed.in_features} to {_embed.out_features} features, but the student gives {MethodInputs.Shape(student.shape)} and the teacher {MethodInputs.Shape(teacher.shape)}.");
        }
        return Loss(student, teacher).MoveToOuterDisposeScope();
    }

    /// <summary>The SRD loss of pooled features [B, d_s] and [B, d_t].</summary>
    public Tensor Loss(Tensor student, Tensor teacher)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        using var scope = NewDisposeScope();
        var projected = _embed.call(student);
        var n = projected.shape[0];
        var correlation = (Standardize(projected, BnEps) * Standardize(teacher.detach(), BnEps)).sum([0]) / n;
        return ((correlation - 1.0).abs().pow(4.0).sum() + LogEps).log().MoveToOuterDisposeScope();
    }

    private static Tensor Standardize(Tensor x, double eps) =>
        (x - x.mean([0], keepdim: true)) / (x.var(0, unbiased: false, keepdim: true) + eps).sqrt();
}
