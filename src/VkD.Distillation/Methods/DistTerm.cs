using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// DIST (Huang et al., NeurIPS 2022, "Knowledge distillation from a stronger teacher"; hunto/DIST_KD): the student
/// matches the teacher's class probabilities <c>softmax(z / tau)</c> by Pearson correlation rather than by KL, across the
/// classes of each sample (inter-class relation) and across the samples of each class (intra-class relation):
/// <c>tau² · (beta · (1 − mean_b ρ(y_s[b], y_t[b])) + gamma · (1 − mean_c ρ(y_s[:, c], y_t[:, c])))</c>, with
/// <c>ρ(a, b) = cos(a − ā, b − b̄)</c> and 1e-8 added to the product of the norms. Reads the student's distillation head
/// when it has one (as logit KD) and the teacher's logits.
/// </summary>
public sealed class DistTerm : ILossTerm
{
    /// <summary>Creates the term with the paper's ImageNet defaults (beta 1, gamma 1, tau 1).</summary>
    public DistTerm(double beta = 1.0, double gamma = 1.0, double tau = 1.0, double weight = 1.0, string name = "dist")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MethodChecks.NonNegative(name, "beta", beta);
        MethodChecks.NonNegative(name, "gamma", gamma);
        MethodChecks.Positive(name, "tau", tau);
        MethodChecks.NonNegative(name, "weight", weight);
        Beta = beta;
        Gamma = gamma;
        Tau = tau;
        Weight = weight;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Weight { get; }

    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <summary>Weight of the inter-class relation.</summary>
    public double Beta { get; }

    /// <summary>Weight of the intra-class relation.</summary>
    public double Gamma { get; }

    /// <summary>Temperature of the softmax.</summary>
    public double Tau { get; }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = MethodInputs.StudentLogits(inputs, Name);
        var teacher = MethodInputs.TeacherLogits(inputs, Name);
        MethodInputs.RequireSameLogits(student, teacher, Name);
        return Loss(student, teacher, Beta, Gamma, Tau);
    }

    /// <summary>The DIST loss of logits [B, C].</summary>
    public static Tensor Loss(Tensor student, Tensor teacher, double beta, double gamma, double tau)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        using var scope = NewDisposeScope();
        var ys = nn.functional.softmax(student / tau, 1);
        var yt = nn.functional.softmax(teacher.detach() / tau, 1);
        var inter = 1.0 - PearsonRows(ys, yt).mean();
        var intra = 1.0 - PearsonRows(ys.t(), yt.t()).mean();
        return (tau * tau * (beta * inter + gamma * intra)).MoveToOuterDisposeScope();
    }

    private static Tensor PearsonRows(Tensor a, Tensor b)
    {
        var ac = a - a.mean([1], keepdim: true);
        var bc = b - b.mean([1], keepdim: true);
        return (ac * bc).sum(1) / (ac.norm(1) * bc.norm(1) + 1e-8);
    }
}
