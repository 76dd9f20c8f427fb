using static TorchSharp.torch;

namespace VkD.Distillation.Losses;

/// <summary>The distance between projected student features and normalised teacher features.</summary>
public enum FeatureLossKind
{
    /// <summary><c>F.smooth_l1_loss(s, t, beta)</c>, mean over all elements (the VkD reference, beta = 1).</summary>
    SmoothL1,

    /// <summary><c>F.mse_loss(s, t)</c>, mean over all elements.</summary>
    Mse,

    /// <summary>Euclidean distance per row, averaged over rows: <c>(s - t).norm(dim=-1).mean()</c>.</summary>
    L2PerRow,

    /// <summary>Mean over rows of <c>1 - cos(student_i, teacher_i)</c>.</summary>
    Cosine,
}

/// <summary>Feature loss between rows [N, D] of student and teacher.</summary>
public sealed class FeatureLoss
{
    /// <summary>Creates the loss; <paramref name="beta"/> is the SmoothL1 threshold.</summary>
    public FeatureLoss(FeatureLossKind kind = FeatureLossKind.SmoothL1, double beta = 1.0)
    {
        if (!(beta > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "SmoothL1 beta must be > 0.");
        }
        Kind = kind;
        Beta = beta;
    }

    /// <summary>The distance.</summary>
    public FeatureLossKind Kind { get; }

    /// <summary>SmoothL1 threshold.</summary>
    public double Beta { get; }

    /// <summary>Parses <c>smooth_l1</c>, <c>mse</c> or <c>l2</c>.</summary>
    public static FeatureLossKind Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "smooth_l1" or "smoothl1" => FeatureLossKind.SmoothL1,
        "mse" => FeatureLossKind.Mse,
        "l2" or "l2_per_row" => FeatureLossKind.L2PerRow,
        "cosine" or "cos" => FeatureLossKind.Cosine,
        _ => throw new ArgumentException($"Unknown feature loss '{name}'; expected smooth_l1, mse, l2 or cosine.", nameof(name)),
    };

    /// <summary>The scalar loss between <paramref name="student"/> and <paramref name="teacher"/> of equal shape.</summary>
    public Tensor Compute(Tensor student, Tensor teacher)
    {
        if (!student.shape.SequenceEqual(teacher.shape))
        {
            throw new ArgumentException(
                $"Feature loss needs equal shapes: student [{string.Join(", ", student.shape)}] vs teacher " +
                $"[{string.Join(", ", teacher.shape)}].", nameof(teacher));
        }
        return Kind switch
        {
            FeatureLossKind.SmoothL1 => nn.functional.smooth_l1_loss(student, teacher, nn.Reduction.Mean, Beta),
            FeatureLossKind.Mse => nn.functional.mse_loss(student, teacher, nn.Reduction.Mean),
            FeatureLossKind.Cosine => 1.0 - nn.functional.cosine_similarity(student, teacher, dim: -1).mean(),
            _ => (student - teacher).norm(-1).mean(),
        };
    }
}
