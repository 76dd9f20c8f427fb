using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>
/// What a classifier gives a distillation step in one forward pass: the class-head logits, the distillation-head
/// logits where the model has a second head (DeiT-distilled students), and the pooled feature vector that the
/// projector pairs with the teacher's features.
/// </summary>
/// <param name="Logits">Class-head logits, [B, num_classes].</param>
/// <param name="DistillationLogits">Distillation-head logits, [B, num_classes], or null for single-head models.</param>
/// <param name="PooledFeatures">Pooled features, [B, <see cref="ClassifierModel.NumFeatures"/>].</param>
public sealed record ClassifierOutputs(Tensor Logits, Tensor? DistillationLogits, Tensor PooledFeatures);

/// <summary>
/// Base of every classification model in the zoo, following timm's conventions: <see cref="ForwardFeatures"/> gives
/// the pre-pool feature map or token sequence, <see cref="ForwardHead"/> pools and classifies, and
/// <c>forward(x) = ForwardHead(ForwardFeatures(x))</c>.
/// </summary>
public abstract class ClassifierModel : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module under the given name (the name TorchSharp reports for it).</summary>
    protected ClassifierModel(string name) : base(name) { }

    /// <summary>Width of the pooled features (timm's <c>num_features</c>).</summary>
    public abstract int NumFeatures { get; }

    /// <summary>Number of classes of the head(s); 0 when the model has no classifier.</summary>
    public abstract int NumClasses { get; }

    /// <summary>Pre-pool features: [B, C, H, W] for CNNs, [B, N, D] token sequences for transformers.</summary>
    public abstract Tensor ForwardFeatures(Tensor x);

    /// <summary>Pools <paramref name="features"/> and applies the head; with <paramref name="preLogits"/> returns the
    /// pooled features instead of logits (timm's <c>pre_logits</c>).</summary>
    public abstract Tensor ForwardHead(Tensor features, bool preLogits = false);

    /// <summary>One forward pass that returns everything a distillation loss needs (see <see cref="ClassifierOutputs"/>).
    /// Single-head models return their logits and their pooled pre-logits features.</summary>
    public virtual ClassifierOutputs ForwardForDistillation(Tensor x)
    {
        var features = ForwardFeatures(x);
        var pooled = ForwardHead(features, preLogits: true);
        return new ClassifierOutputs(ForwardHead(features), null, pooled);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => ForwardHead(ForwardFeatures(input));
}
