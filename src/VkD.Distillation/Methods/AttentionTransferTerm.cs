using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// Attention transfer (Zagoruyko &amp; Komodakis, ICLR 2017; mdistiller <c>AT</c>, activation-based, "code" variant):
/// for each stage the spatial attention <c>a(f) = normalize(mean_c f^p)</c> (flattened, L2-normalised per sample) of the
/// student matches the teacher's by <c>mean((a_s − a_t)²)</c>, summed over the stages. Maps of different sizes are
/// average-pooled to the smaller one (as mdistiller); token sequences [B, N, D] average over the embedding instead of
/// channels, and a ViT stage paired with a CNN stage is read as a map (<see cref="TokenGrid"/>). Channels may differ.
/// </summary>
public sealed class AttentionTransferTerm : ILossTerm
{
    private readonly (string Student, string Teacher)[] _stages;

    /// <summary>Creates the term over <paramref name="stages"/> (student feature, teacher feature), with mdistiller's
    /// defaults (p 2, weight 1000).</summary>
    public AttentionTransferTerm(IEnumerable<(string Student, string Teacher)> stages, double p = 2.0, double weight = 1000.0, string name = "at")
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MethodChecks.Positive(name, "p", p);
        MethodChecks.NonNegative(name, "weight", weight);
        _stages = [.. stages];
        if (_stages.Length == 0)
        {
            throw new ArgumentException($"Loss term '{name}' needs at least one (student, teacher) stage.", nameof(stages));
        }
        P = p;
        Weight = weight;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Weight { get; }

    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <summary>The exponent p.</summary>
    public double P { get; }

    /// <summary>The (student, teacher) features of each stage.</summary>
    public IReadOnlyList<(string Student, string Teacher)> Stages => _stages;

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var teacher = inputs.RequireTeacher(Name);
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var (s, t) in _stages)
        {
            var stage = StageLoss(inputs.Student.Require(s, Name), teacher.Require(t, Name).detach(), P, Name);
            total = total is null ? stage : total + stage;
        }
        return total!.MoveToOuterDisposeScope();
    }

    /// <summary>The loss of one stage.</summary>
    /// <exception cref="ArgumentException">The features cannot be paired (token counts differ, unsupported ranks).</exception>
    public static Tensor StageLoss(Tensor student, Tensor teacher, double p, string term = "at")
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        using var scope = NewDisposeScope();
        (student, teacher) = TokenGrid.Align(student, teacher, term);
        CheckPair(student.shape, teacher.shape, term);
        if (student.ndim == 4 && student.shape[2] != teacher.shape[2])
        {
            if (student.shape[2] > teacher.shape[2])
            {
                student = nn.functional.adaptive_avg_pool2d(student, [teacher.shape[2], teacher.shape[3]]);
            }
            else
            {
                teacher = nn.functional.adaptive_avg_pool2d(teacher, [student.shape[2], student.shape[3]]);
            }
        }
        return (Attention(student, p) - Attention(teacher, p)).pow(2).mean().MoveToOuterDisposeScope();
    }

    /// <summary>Checks that two stage shapes can be paired (after <see cref="TokenGrid.AlignShapes"/>).</summary>
    /// <exception cref="ArgumentException">The message names the term and both shapes.</exception>
    public static void CheckPair(IReadOnlyList<long> student, IReadOnlyList<long> teacher, string term)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        var (s, t) = TokenGrid.AlignShapes(student, teacher, term);
        var ok = s.Length == t.Length && s[0] == t[0] && s.Length switch
        {
            3 => s[1] == t[1],
            4 => (s[2] >= t[2]) == (s[3] >= t[3]),
            _ => false,
        };
        if (!ok)
        {
            throw new ArgumentException(
                $"Loss term '{term}' compares spatial attention, but student feature {MethodInputs.Shape(student)} and teacher feature {MethodInputs.Shape(teacher)} " +
                "cannot be paired: both must be maps [B, C, H, W] (any sizes) or token sequences [B, N, D] with the same N.");
        }
    }

    private static Tensor Attention(Tensor f, double p)
    {
        var pooled = f.ndim == 4 ? f.pow(p).mean([1]) : f.pow(p).mean([-1]);
        return nn.functional.normalize(pooled.reshape(f.shape[0], -1), p: 2, dim: 1, eps: 1e-12);
    }
}
