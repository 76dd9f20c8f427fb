using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// Decoupled knowledge distillation (Zhao et al., CVPR 2022; mdistiller <c>DKD</c>): the KL divergence split into the
/// target-class part (TCKD, the binary target/other distribution) and the non-target part (NCKD, the distribution over
/// the other classes), <c>alpha · TCKD + beta · NCKD</c>, each <c>T² · KL(teacher ‖ student) / B</c>, scaled by a linear
/// warm-up <c>min((epoch + 1) / warmup, 1)</c> (mdistiller counts epochs from 1). Reads the student's distillation head
/// when it has one (as logit KD), the teacher's logits and integer labels.
/// </summary>
public sealed class DkdTerm : IStepAwareTerm
{
    /// <summary>Creates the term with mdistiller's CIFAR defaults (alpha 1, beta 8, T 4, 20 warm-up epochs).</summary>
    public DkdTerm(double alpha = 1.0, double beta = 8.0, double temperature = 4.0, int warmupEpochs = 20, double weight = 1.0, string name = "dkd")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MethodChecks.NonNegative(name, "alpha", alpha);
        MethodChecks.NonNegative(name, "beta", beta);
        MethodChecks.Positive(name, "temperature", temperature);
        MethodChecks.NonNegative(name, "weight", weight);
        if (warmupEpochs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(warmupEpochs), warmupEpochs, $"Loss term '{name}': warm-up epochs must be >= 0 (0 = no warm-up).");
        }
        Alpha = alpha;
        Beta = beta;
        Temperature = temperature;
        WarmupEpochs = warmupEpochs;
        Weight = weight;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Weight { get; }

    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <summary>Weight of the target-class part.</summary>
    public double Alpha { get; }

    /// <summary>Weight of the non-target part.</summary>
    public double Beta { get; }

    /// <summary>Temperature T.</summary>
    public double Temperature { get; }

    /// <summary>Epochs of the linear warm-up (0: none).</summary>
    public int WarmupEpochs { get; }

    /// <summary>0-based epoch of the step being computed (set by <see cref="BeginStep"/>; 0 until told).</summary>
    public int Epoch { get; set; }

    /// <summary>The warm-up factor at 0-based <paramref name="epoch"/>: <c>min((epoch + 1) / warmup, 1)</c>.</summary>
    public static double WarmupFactor(int epoch, int warmupEpochs) =>
        warmupEpochs <= 0 ? 1.0 : Math.Min((epoch + 1.0) / warmupEpochs, 1.0);

    /// <inheritdoc />
    public void BeginStep(DistillationStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Epoch = step.Epoch;
    }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = MethodInputs.StudentLogits(inputs, Name);
        var teacher = MethodInputs.TeacherLogits(inputs, Name);
        var labels = MethodInputs.HardLabels(inputs, Name);
        MethodInputs.RequireSameLogits(student, teacher, Name);
        var factor = WarmupFactor(Epoch, WarmupEpochs);
        var loss = Loss(student, teacher, labels, Alpha, Beta, Temperature);
        return factor == 1.0 ? loss : factor * loss;
    }

    /// <summary><c>alpha · TCKD + beta · NCKD</c> without the warm-up, for logits [B, C] and labels [B].</summary>
    public static Tensor Loss(Tensor student, Tensor teacher, Tensor labels, double alpha, double beta, double temperature)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = NewDisposeScope();
        var (tckd, nckd) = Parts(student, teacher, labels, temperature);
        return (alpha * tckd + beta * nckd).MoveToOuterDisposeScope();
    }

    /// <summary>TCKD and NCKD (each <c>T² · KL / B</c>), for logits [B, C] and labels [B].</summary>
    public static (Tensor Tckd, Tensor Nckd) Parts(Tensor student, Tensor teacher, Tensor labels, double temperature)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = NewDisposeScope();
        teacher = teacher.detach();
        var gt = zeros_like(student).scatter_(1, labels.reshape(-1, 1), ones_like(student));
        var other = 1.0 - gt;
        var pStudent = nn.functional.softmax(student / temperature, 1);
        var pTeacher = nn.functional.softmax(teacher / temperature, 1);
        var scale = temperature * temperature / student.shape[0];
        var tckd = KlSum(Binary(pStudent, gt, other).log(), Binary(pTeacher, gt, other)) * scale;
        // Masking the target logit by -1000 leaves the softmax over the other classes (the target's probability is 0).
        var nckd = KlSum(nn.functional.log_softmax(student / temperature - 1000.0 * gt, 1),
            nn.functional.softmax(teacher / temperature - 1000.0 * gt, 1)) * scale;
        return (tckd.MoveToOuterDisposeScope(), nckd.MoveToOuterDisposeScope());
    }

    private static Tensor Binary(Tensor p, Tensor gt, Tensor other) =>
        cat([(p * gt).sum(1, keepdim: true), (p * other).sum(1, keepdim: true)], 1);

    private static Tensor KlSum(Tensor logP, Tensor q) =>
        nn.functional.kl_div(logP, q, reduction: nn.Reduction.Sum, log_target: false);
}
