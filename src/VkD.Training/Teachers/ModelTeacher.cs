using System.Globalization;
using TorchSharp;
using VkD.Distillation.Teachers;
using VkD.Models;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Training.Teachers;

/// <summary>How a teacher's outputs in one precision agree with its float32 outputs on the same images.</summary>
/// <param name="Images">Images compared.</param>
/// <param name="Top1Agreement">Share of images (0..1) with the same top-1 class; NaN for a feature-only teacher.</param>
/// <param name="FeatureCosine">Mean cosine similarity of the pooled features.</param>
/// <param name="RelativeFeatureError">‖f - f32‖ / ‖f32‖ over all the features.</param>
public sealed record PrecisionAgreement(int Images, double Top1Agreement, double FeatureCosine, double RelativeFeatureError)
{
    /// <summary>Compares <paramref name="reduced"/> with <paramref name="reference"/> (float32) outputs.</summary>
    public static PrecisionAgreement Between(TeacherOutputs reference, TeacherOutputs reduced)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(reduced);
        using var scope = NewDisposeScope();
        var f32 = reference.Features.to_type(ScalarType.Float64);
        var f = reduced.Features.to_type(ScalarType.Float64);
        var cosine = nn.functional.cosine_similarity(f, f32, dim: 1).mean().item<double>();
        var error = ((f - f32).norm() / f32.norm()).item<double>();
        var top1 = reference.Logits is null || reduced.Logits is null ? double.NaN
            : reference.Logits.argmax(1).eq(reduced.Logits.argmax(1)).to_type(ScalarType.Float64).mean().item<double>();
        return new PrecisionAgreement((int)f32.shape[0], top1, cosine, error);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"against float32 on {Images} evaluation images: {(double.IsNaN(Top1Agreement) ? "" : $"top-1 agreement {100 * Top1Agreement:F1}%, ")}feature cosine {FeatureCosine:F5}, relative feature error {RelativeFeatureError:E2}");
}

/// <summary>
/// A zoo classifier used as a frozen teacher: eval mode, no autograd, gradients switched off on every parameter.
/// Its features are the pooled pre-logits features (the reference's <c>forward_features(x).mean((2,3))</c> for a
/// CNN teacher) and its logits the classifier head's output.
/// </summary>
public sealed class ModelTeacher : ITeacher
{
    /// <summary>Freezes <paramref name="model"/> and takes ownership of it.</summary>
    /// <param name="model">The teacher network.</param>
    /// <param name="name">Its zoo name.</param>
    /// <param name="inputSize">The image side it was trained at (0: unknown, it gets the student's).</param>
    public ModelTeacher(ClassifierModel model, string name, int inputSize = 0)
    {
        Model = model;
        Name = name;
        InputSize = inputSize;
        model.eval();
        foreach (var p in model.parameters())
        {
            p.requires_grad = false;
        }
    }

    /// <summary>The wrapped model.</summary>
    public ClassifierModel Model { get; }

    /// <summary>Zoo name of the model.</summary>
    public string Name { get; }

    /// <inheritdoc />
    public int InputSize { get; }

    /// <inheritdoc />
    public int FeatureDim => Model.NumFeatures;

    /// <inheritdoc />
    public int NumClasses => Model.NumClasses;

    /// <summary>The dtype the teacher computes in (float32 unless <see cref="SetPrecision"/> changed it).</summary>
    public ScalarType Precision { get; private set; } = ScalarType.Float32;

    /// <summary>True once <see cref="FoldBatchNorm"/> folded BatchNorms into the convolutions before them. The outputs
    /// then differ from the unfolded model's at rounding level only (float32: ~1e-6 relative).</summary>
    public bool BatchNormFolded { get; private set; }

    /// <summary>Folds every BatchNorm that follows a convolution into it (<see cref="BatchNormFolding.Fold"/>), so the
    /// forward runs one pass per conv instead of two; returns the number of pairs folded (0 for a model without any,
    /// e.g. a ViT). Call it before <see cref="SetPrecision"/>: the fold is computed from the float32 weights.</summary>
    /// <exception cref="InvalidOperationException">The teacher no longer computes in float32.</exception>
    public int FoldBatchNorm()
    {
        if (Precision != ScalarType.Float32)
        {
            throw new InvalidOperationException($"Fold the teacher's BatchNorms before moving it to {Precision}: folding {Precision} weights would round the folded weights twice.");
        }
        var folded = BatchNormFolding.Fold(Model);
        BatchNormFolded |= folded > 0;
        return folded;
    }

    /// <summary>True once <see cref="UseChannelsLast"/> laid the conv weights out channels-last: the forward then hands
    /// the convs channels-last input too.</summary>
    public bool UsesChannelsLast { get; private set; }

    /// <summary>Lays the model's conv weights out in libtorch's channels-last memory format and feeds the forward
    /// channels-last images, which oneDNN runs faster on this CPU (docs/benchmarks.md); the outputs agree with the
    /// default layout's within float32 rounding. Returns the number of convolutions converted (0 for a model without
    /// any, which is then left as it was).</summary>
    public int UseChannelsLast()
    {
        var converted = UsesChannelsLast ? 0 : ChannelsLast.Apply(Model);
        UsesChannelsLast |= converted > 0;
        return converted;
    }

    /// <summary>How the reduced-precision teacher agreed with its float32 self when <see cref="SetPrecision"/> measured
    /// it; null if it was not measured.</summary>
    public PrecisionAgreement? Agreement { get; private set; }

    /// <summary>Moves the weights to <paramref name="precision"/> (float32 or bfloat16). Its outputs stay float32, so
    /// the distiller and the student never see the teacher's arithmetic. With <paramref name="probe"/> images (which it
    /// disposes), the float32 and the new outputs are compared on them first (<see cref="Agreement"/>).</summary>
    public void SetPrecision(ScalarType precision, Tensor? probe = null)
    {
        using var images = probe;
        if (precision is not (ScalarType.Float32 or ScalarType.BFloat16))
        {
            throw new ArgumentException($"A teacher runs in float32 or bfloat16, not {precision}.", nameof(precision));
        }
        var before = images is null || precision == Precision ? null : Forward(images);
        Model.to(precision);
        Precision = precision;
        if (before is not null)
        {
            var after = Forward(images!);
            Agreement = PrecisionAgreement.Between(before, after);
            before.Logits?.Dispose();
            before.Features.Dispose();
            after.Logits?.Dispose();
            after.Features.Dispose();
        }
    }

    /// <inheritdoc />
    public TeacherOutputs Forward(Tensor images)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // Kept in eval mode even if a caller toggled train() on a parent: BN statistics must stay frozen.
        Model.eval();
        var input = images.dtype == Precision ? images : images.to_type(Precision);
        if (UsesChannelsLast && input.dim() == 4 && !ChannelsLast.Is(input))
        {
            input = ChannelsLast.Copy(input);
        }
        var features = Model.ForwardFeatures(input);
        var pooled = Model.ForwardHead(features, preLogits: true);
        Tensor? logits = Model.NumClasses > 0 ? Model.ForwardHead(features) : null;
        return new TeacherOutputs(logits?.to_type(ScalarType.Float32).MoveToOuterDisposeScope(), pooled.to_type(ScalarType.Float32).MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
