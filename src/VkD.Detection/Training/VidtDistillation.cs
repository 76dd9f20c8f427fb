using VkD.Detection.Models;
using VkD.Distillation.Distiller;
using VkD.Distillation.Losses;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>
/// Names of the ViDT features the detection distillation reads from a <see cref="FeatureSet"/> (VkD's
/// <c>distil_tokens</c>), as <see cref="VidtDistillation.AddFeatures"/> fills them from <see cref="VidtOutputs"/>.
/// </summary>
public static class VidtFeatureNames
{
    /// <summary>Patch level <paramref name="level"/> (1-based, as VkD's <c>patch_projector_{l}</c>): the projected
    /// [PATCH] map <c>srcs[l−1]</c> [B, d, H_l, W_l], padded positions included.</summary>
    public static string PatchToken(int level) => $"patch_token_{level}";

    /// <summary>The projected backbone [DET] tokens <c>det_tgt</c> [B, Q, d].</summary>
    public const string BodyDetToken = "body_det_token";

    /// <summary>The decoder states <c>hs</c> [L + 1, B, Q, d] with the stack folded into the batch, [(L + 1)·B, Q, d]:
    /// the row order of ViDT's <c>hs.view(l·b·q, d)</c>.</summary>
    public const string NeckDetToken = "neck_det_token";
}

/// <summary>
/// The two detection distillations of issue 13, on ViDT's features: VkD's six orthogonally projected,
/// per-channel standardised SmoothL1 pairs (as pairs of the one <see cref="FeatureDistiller"/>), and ViDT's own token
/// matching (<see cref="VidtTokenMatchingTerm"/>), the baseline.
/// </summary>
public static class VidtDistillation
{
    /// <summary>ViDT's <c>--distil_loss_coef</c> default.</summary>
    public const double DefaultCoefficient = 4.0;

    /// <summary>Adds a ViDT forward pass's distillation features to <paramref name="features"/> under
    /// <see cref="VidtFeatureNames"/> (views of the outputs, which must outlive the step's loss).</summary>
    public static FeatureSet AddFeatures(FeatureSet features, VidtOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(outputs);
        for (var l = 0; l < outputs.PatchTokens.Count; l++)
        {
            features.Add(VidtFeatureNames.PatchToken(l + 1), outputs.PatchTokens[l]);
        }
        features.Add(VidtFeatureNames.BodyDetToken, outputs.BodyDetToken);
        features.Add(VidtFeatureNames.NeckDetToken, outputs.NeckDetToken.flatten(0, 1));
        return features;
    }

    /// <summary>Term names of <see cref="CreateVkd"/>, in sum order.</summary>
    public static IReadOnlyList<string> VkdTermNames(int levels = 4) =>
        [.. Enumerable.Range(1, levels).Select(l => $"loss_distil_patch_{l}"), "loss_distil_body_det", "loss_distil_neck_det"];

    /// <summary>
    /// VkD's detection distillation (VkD <c>vidt/</c>: <c>main.py</c>, <c>detector.py</c>, <c>criterion.py</c>):
    /// for each patch level l, <c>SmoothL1(std(P_l S_l), std(T_l))</c> with the projector <c>patch_projector_{l}</c>;
    /// the same on the [DET] tokens with <c>body_det_projector</c> and on all decoder states with the one
    /// <c>neck_det_projector</c> (statistics pooled over the stacked entries). Each projector is
    /// <see cref="ScaledOrthogonalProjector"/> <c>s ⊙ Wx + b</c>; <c>std</c> is <see cref="BatchStandardization"/>
    /// (per channel over all rows, unbiased, no eps) on both sides; every term has weight <paramref name="coefficient"/>,
    /// so the distiller's total is <c>coefficient · Σ</c>, VkD's weighted <c>loss_distil</c>. Projector names are
    /// ViDT's, so the distiller's state-dict keys are the student checkpoint's (<c>patch_projector_1.projector...</c>).
    /// </summary>
    /// <param name="coefficient">ViDT's <c>--distil_loss_coef</c>.</param>
    /// <param name="width">Feature width d of both sides (ViDT's <c>reduced_dim</c>, 256).</param>
    /// <param name="levels">Patch levels (ViDT's <c>num_feature_levels</c>, 4).</param>
    /// <param name="options">Orthogonal-map options (null: PyTorch's defaults, matrix_exp for square).</param>
    public static FeatureDistiller CreateVkd(double coefficient = DefaultCoefficient, int width = 256, int levels = 4,
        OrthogonalProjectorOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(levels, 1);
        var names = VkdTermNames(levels);
        var terms = new List<ILossTerm>(levels + 2);
        FeaturePairTerm Pair(string name, string feature, FeatureRows rows, string projector) => new(name, feature, feature,
            new ScaledOrthogonalProjector(width, width, bias: true, options), new BatchStandardization(), new BatchStandardization(),
            new FeatureLoss(FeatureLossKind.SmoothL1), coefficient, rows, projector);
        for (var l = 1; l <= levels; l++)
        {
            terms.Add(Pair(names[l - 1], VidtFeatureNames.PatchToken(l), FeatureRows.Map, $"patch_projector_{l}"));
        }
        terms.Add(Pair(names[levels], VidtFeatureNames.BodyDetToken, FeatureRows.Tokens, "body_det_projector"));
        terms.Add(Pair(names[levels + 1], VidtFeatureNames.NeckDetToken, FeatureRows.Tokens, "neck_det_projector"));
        return new FeatureDistiller(terms, "VkdDetectionDistiller");
    }

    /// <summary>ViDT's own token-matching distillation as a one-term distiller (term <c>loss_distil</c>).</summary>
    /// <param name="coefficient">ViDT's <c>--distil_loss_coef</c>.</param>
    /// <param name="levels">Patch levels.</param>
    /// <param name="neckEntries">Entries of the decoder stack (decoder layers + 1, ViDT's 7).</param>
    public static FeatureDistiller CreateTokenMatching(double coefficient = DefaultCoefficient, int levels = 4, int neckEntries = 7) =>
        new([new VidtTokenMatchingTerm(coefficient, levels, neckEntries)], "VidtTokenMatchingDistiller");
}

/// <summary>
/// ViDT's token-matching distillation (naver-ai/vidt <c>methods/vidt/criterion.py</c>, the <c>distil_tokens</c>
/// branch), no projector and no normalisation:
/// <c>sqrt( Σ_l mean_rows‖S_l − T_l‖₂ + mean_rows‖S_body − T_body‖₂ + L·mean_rows‖S_neck − T_neck‖₂ )</c>
/// with per-token (per-row) Euclidean distances, L the neck's stacked entries (7), and the teacher detached.
/// </summary>
public sealed class VidtTokenMatchingTerm : ILossTerm
{
    /// <summary>Creates the term.</summary>
    /// <param name="weight">ViDT's <c>--distil_loss_coef</c>.</param>
    /// <param name="levels">Patch levels.</param>
    /// <param name="neckEntries">Entries of the decoder stack folded into <see cref="VidtFeatureNames.NeckDetToken"/>.</param>
    /// <param name="name">Term name in logs.</param>
    public VidtTokenMatchingTerm(double weight = VidtDistillation.DefaultCoefficient, int levels = 4, int neckEntries = 7, string name = "loss_distil")
    {
        if (!(weight >= 0) || double.IsInfinity(weight))
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"Loss term '{name}': the weight must be finite and >= 0.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(levels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(neckEntries, 1);
        Weight = weight;
        Levels = levels;
        NeckEntries = neckEntries;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Weight { get; }

    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <summary>Patch levels.</summary>
    public int Levels { get; }

    /// <summary>Entries of the decoder stack; the neck term is multiplied by it.</summary>
    public int NeckEntries { get; }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var teacher = inputs.RequireTeacher(Name);
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        void Add(Tensor term) => sum = sum is null ? term : sum + term;
        for (var l = 1; l <= Levels; l++)
        {
            Add(MeanTokenDistance(inputs.Student, teacher, VidtFeatureNames.PatchToken(l), FeatureRows.Map));
        }
        Add(MeanTokenDistance(inputs.Student, teacher, VidtFeatureNames.BodyDetToken, FeatureRows.Tokens));
        var body = inputs.Student.Require(VidtFeatureNames.BodyDetToken, Name);
        var neck = inputs.Student.Require(VidtFeatureNames.NeckDetToken, Name);
        if (neck.ndim != 3 || neck.shape[0] != NeckEntries * body.shape[0])
        {
            throw new ArgumentException(
                $"Loss term '{Name}': the student's '{VidtFeatureNames.NeckDetToken}' must be the {NeckEntries} decoder entries folded into the batch, " +
                $"[{NeckEntries}·{body.shape[0]}, Q, d], got [{string.Join(", ", neck.shape)}].");
        }
        Add(NeckEntries * MeanTokenDistance(inputs.Student, teacher, VidtFeatureNames.NeckDetToken, FeatureRows.Tokens));
        return sum!.sqrt().MoveToOuterDisposeScope();
    }

    private Tensor MeanTokenDistance(FeatureSet student, FeatureSet teacher, string feature, FeatureRows layout)
    {
        var s = layout.ToRows(student.Require(feature, Name), Name, "student");
        var t = layout.ToRows(teacher.Require(feature, Name), Name, "teacher").detach();
        if (!s.shape.SequenceEqual(t.shape))
        {
            throw new ArgumentException(
                $"Loss term '{Name}': feature '{feature}' gives student rows [{string.Join(", ", s.shape)}] but teacher rows [{string.Join(", ", t.shape)}]; " +
                "token matching needs equal shapes (same padded batch, same width).");
        }
        // sqrt of the summed squares, as ViDT writes it (norm() would differ only in its gradient at a zero distance).
        return (s - t).pow(2).sum(-1).sqrt().mean();
    }
}
