using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Generation.Models;

/// <summary>
/// BigGAN's class-conditional batch norm (<c>layers.ccbn</c>) as the CIFAR scripts build it (no <c>--G_shared</c>):
/// <c>batch_norm(x, stored_mean, stored_var) · (1 + gain[y]) + bias[y]</c>, where <c>gain</c> and <c>bias</c> are
/// embedding tables [classes, channels] (a linear map of the one-hot class, no bias). Keys: <c>gain.weight</c>,
/// <c>bias.weight</c>, <c>stored_mean</c>, <c>stored_var</c>. Training uses batch statistics and updates the stored
/// ones with momentum 0.1 (unbiased variance), as <c>F.batch_norm</c> does.
/// </summary>
public sealed class ClassConditionalBatchNorm : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding _gain;
    private readonly Embedding _bias;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the layer for <paramref name="channels"/> channels and <paramref name="numClasses"/> classes.</summary>
    public ClassConditionalBatchNorm(long channels, long numClasses, double eps = 1e-5, double momentum = 0.1)
        : base(nameof(ClassConditionalBatchNorm))
    {
        Eps = eps;
        Momentum = momentum;
        _gain = nn.Embedding(numClasses, channels);
        _bias = nn.Embedding(numClasses, channels);
        register_module("gain", _gain);
        register_module("bias", _bias);
        register_buffer("stored_mean", zeros(channels));
        register_buffer("stored_var", ones(channels));
    }

    /// <summary>Added to the variance.</summary>
    public double Eps { get; }

    /// <summary>Weight of the batch statistics in the stored ones.</summary>
    public double Momentum { get; }

    /// <summary>The class-gain table [classes, channels] (the gain is 1 + its row).</summary>
    public Parameter GainTable => _gain.weight!;

    /// <summary>The class-bias table [classes, channels].</summary>
    public Parameter BiasTable => _bias.weight!;

    /// <summary>Normalises <paramref name="x"/> [B, C, H, W] with the gains and biases of the int64 classes <paramref name="y"/> [B].</summary>
    public override Tensor forward(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var gain = (1 + _gain.call(y)).view(y.shape[0], -1, 1, 1);
        var bias = _bias.call(y).view(y.shape[0], -1, 1, 1);
        var normed = nn.functional.batch_norm(x, get_buffer("stored_mean")!, get_buffer("stored_var")!, null, null, training, Momentum, Eps);
        return (normed * gain + bias).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// BigGAN's unconditional batch norm (<c>layers.bn</c>) before G's output convolution: parameters <c>gain</c>,
/// <c>bias</c> and buffers <c>stored_mean</c>, <c>stored_var</c> (BigGAN's names for an affine BatchNorm2d).
/// </summary>
public sealed class BigGanBatchNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the layer for <paramref name="channels"/> channels.</summary>
    public BigGanBatchNorm(long channels, double eps = 1e-5, double momentum = 0.1) : base(nameof(BigGanBatchNorm))
    {
        Eps = eps;
        Momentum = momentum;
        register_parameter("gain", new Parameter(ones(channels)));
        register_parameter("bias", new Parameter(zeros(channels)));
        register_buffer("stored_mean", zeros(channels));
        register_buffer("stored_var", ones(channels));
    }

    /// <summary>Added to the variance.</summary>
    public double Eps { get; }

    /// <summary>Weight of the batch statistics in the stored ones.</summary>
    public double Momentum { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => nn.functional.batch_norm(input, get_buffer("stored_mean")!, get_buffer("stored_var")!,
        get_parameter("gain"), get_parameter("bias"), training, Momentum, Eps);
}
