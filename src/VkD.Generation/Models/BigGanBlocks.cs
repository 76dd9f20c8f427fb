using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Generation.Models;

/// <summary>
/// BigGAN's generator block (<c>layers.GBlock</c>) with nearest ×2 upsampling:
/// <c>h = conv2(relu(bn2(conv1(up(relu(bn1(x, y)))), y))) + conv_sc(up(x))</c>. Keys <c>conv1</c>, <c>conv2</c>,
/// <c>conv_sc</c> (1×1; learnable because the block upsamples), <c>bn1</c>, <c>bn2</c>.
/// </summary>
public sealed class GeneratorBlock : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly SpectralConv2d _conv1;
    private readonly SpectralConv2d _conv2;
    private readonly SpectralConv2d _convShortcut;
    private readonly ClassConditionalBatchNorm _bn1;
    private readonly ClassConditionalBatchNorm _bn2;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the block.</summary>
    public GeneratorBlock(long inChannels, long outChannels, long numClasses, SpectralNormStyle style, double snEps, double bnEps)
        : base(nameof(GeneratorBlock))
    {
        _conv1 = new SpectralConv2d(inChannels, outChannels, style: style, eps: snEps);
        _conv2 = new SpectralConv2d(outChannels, outChannels, style: style, eps: snEps);
        _convShortcut = new SpectralConv2d(inChannels, outChannels, kernelSize: 1, padding: 0, style: style, eps: snEps);
        _bn1 = new ClassConditionalBatchNorm(inChannels, numClasses, bnEps);
        _bn2 = new ClassConditionalBatchNorm(outChannels, numClasses, bnEps);
        register_module("conv1", _conv1);
        register_module("conv2", _conv2);
        register_module("conv_sc", _convShortcut);
        register_module("bn1", _bn1);
        register_module("bn2", _bn2);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(_bn1.call(x, y));
        h = Upsample(h);
        var shortcut = _convShortcut.call(Upsample(x));
        h = _conv1.call(h);
        h = nn.functional.relu(_bn2.call(h, y));
        h = _conv2.call(h);
        return (h + shortcut).MoveToOuterDisposeScope();
    }

    private static Tensor Upsample(Tensor x) => nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
}

/// <summary>
/// BigGAN's discriminator block (<c>layers.DBlock</c>, wide: hidden = out channels) with optional 2×2 average-pool
/// downsampling. With pre-activation (every block but the first) the input passes a ReLU first and the shortcut is
/// conv then pool; without, pool then conv. The 1×1 shortcut conv exists when the channels change or the block
/// downsamples. Keys <c>conv1</c>, <c>conv2</c>, <c>conv_sc</c>.
/// </summary>
public sealed class DiscriminatorBlock : nn.Module<Tensor, Tensor>
{
    private readonly SpectralConv2d _conv1;
    private readonly SpectralConv2d _conv2;
    private readonly SpectralConv2d? _convShortcut;
    private readonly bool _preactivation;
    private readonly bool _downsample;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the block.</summary>
    public DiscriminatorBlock(long inChannels, long outChannels, bool preactivation, bool downsample, SpectralNormStyle style, double snEps)
        : base(nameof(DiscriminatorBlock))
    {
        _preactivation = preactivation;
        _downsample = downsample;
        _conv1 = new SpectralConv2d(inChannels, outChannels, style: style, eps: snEps);
        _conv2 = new SpectralConv2d(outChannels, outChannels, style: style, eps: snEps);
        register_module("conv1", _conv1);
        register_module("conv2", _conv2);
        if (inChannels != outChannels || downsample)
        {
            _convShortcut = new SpectralConv2d(inChannels, outChannels, kernelSize: 1, padding: 0, style: style, eps: snEps);
            register_module("conv_sc", _convShortcut);
        }
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = _preactivation ? nn.functional.relu(input) : input;
        h = _conv1.call(h);
        h = _conv2.call(nn.functional.relu(h));
        if (_downsample)
        {
            h = nn.functional.avg_pool2d(h, 2);
        }
        return (h + Shortcut(input)).MoveToOuterDisposeScope();
    }

    private Tensor Shortcut(Tensor x)
    {
        if (_preactivation)
        {
            if (_convShortcut is not null)
            {
                x = _convShortcut.call(x);
            }
            return _downsample ? nn.functional.avg_pool2d(x, 2) : x;
        }
        if (_downsample)
        {
            x = nn.functional.avg_pool2d(x, 2);
        }
        return _convShortcut is null ? x : _convShortcut.call(x);
    }
}
