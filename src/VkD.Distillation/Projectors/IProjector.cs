using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Distillation.Projectors;

/// <summary>A learned map from student features [.., d_s] to teacher features [.., d_t].</summary>
public interface IProjector
{
    /// <summary>Student width d_s.</summary>
    int InFeatures { get; }

    /// <summary>Teacher width d_t.</summary>
    int OutFeatures { get; }

    /// <summary>
    /// True when the optimizer-group builder must put every parameter of this projector in the group with weight decay
    /// 0. The orthogonal projectors say true by default: decoupled decay on the raw parameter either collapses W
    /// (Householder with the released int cast) or pulls W back towards the fixed base, neither of which is wanted.
    /// </summary>
    bool ExemptFromWeightDecay { get; }

    /// <summary>The effective weight W [d_t, d_s] (y = x W^T), computed from the current parameters.</summary>
    Tensor ComputeWeight();
}

/// <summary>Base class of the projector modules: a TorchSharp module from [.., d_s] to [.., d_t] that is an
/// <see cref="IProjector"/>.</summary>
public abstract class ProjectorModule : nn.Module<Tensor, Tensor>, IProjector
{
    /// <summary>Every component is registered explicitly under its PyTorch name; TorchSharp's reflection-based
    /// registration would add the C# field names as extra state-dict keys.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the module and checks the widths.</summary>
    protected ProjectorModule(string name, int inFeatures, int outFeatures) : base(name)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inFeatures),
                $"Projector widths must be positive, got in_features={inFeatures}, out_features={outFeatures}.");
        }
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
    }

    /// <inheritdoc />
    public int InFeatures { get; }

    /// <inheritdoc />
    public int OutFeatures { get; }

    /// <inheritdoc />
    public abstract bool ExemptFromWeightDecay { get; }

    /// <inheritdoc />
    public abstract Tensor ComputeWeight();

    /// <summary>Throws a clear error unless the last dimension of <paramref name="x"/> is <see cref="InFeatures"/>.</summary>
    protected void CheckInput(Tensor x)
    {
        if (x.ndim < 1 || x.shape[^1] != InFeatures)
        {
            throw new ArgumentException(
                $"{GetName()} expects input [..., {InFeatures}] (student width d_s), got [{string.Join(", ", x.shape)}].",
                nameof(x));
        }
    }
}
