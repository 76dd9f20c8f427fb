using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Generation.Models;

/// <summary>What D gives for a batch: its scores [B, 1], and its distillation features [B, FeatureDim] when it has
/// the feature head.</summary>
/// <param name="Scores">Unconditional output plus the class projection.</param>
/// <param name="Features"><c>linear_cls_2(linear_cls_1(h))</c>, or null without the head.</param>
public sealed record DiscriminatorOutputs(Tensor Scores, Tensor? Features) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Scores.Dispose();
        Features?.Dispose();
    }
}

/// <summary>
/// BigGAN's 32×32 projection discriminator with spectral norm everywhere: four <see cref="DiscriminatorBlock"/>s
/// (4ch wide; average-pool in the first two, 32→16→8), ReLU and global sum pooling to <c>h</c> [B, 4ch], then
/// <c>linear(h) + Σ embed[y]·h</c>. With <see cref="BigGanConfig.FeatureHead"/> it also has KD-DLGAN's head
/// <c>linear_cls_2(linear_cls_1(h))</c> (SN linears 4ch → 1024 → 512, no activation between), the feature VkD
/// distils. Keys are KD-DLGAN's (<c>blocks.{i}.0.*</c>, <c>linear.*</c>, <c>linear_cls_{1,2}.*</c>, <c>embed.*</c>).
/// </summary>
public sealed class BigGanDiscriminator : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly List<DiscriminatorBlock> _blocks = [];
    private readonly SpectralLinear _linear;
    private readonly SpectralLinear? _head1;
    private readonly SpectralLinear? _head2;
    private readonly SpectralEmbedding _embed;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Builds the discriminator of <paramref name="config"/>.</summary>
    public BigGanDiscriminator(BigGanConfig config) : base(nameof(BigGanDiscriminator))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var width = config.Width;
        var outer = new List<ModuleList<DiscriminatorBlock>>();
        for (var i = 0; i < 4; i++)
        {
            var block = new DiscriminatorBlock(i == 0 ? config.Channels : width, width, preactivation: i > 0, downsample: i < 2,
                config.SpectralNorm, config.SpectralNormEps);
            _blocks.Add(block);
            outer.Add(nn.ModuleList(block));
        }
        register_module("blocks", nn.ModuleList(outer.ToArray()));
        _linear = new SpectralLinear(width, 1, style: config.SpectralNorm, eps: config.SpectralNormEps);
        register_module("linear", _linear);
        if (config.FeatureHead)
        {
            _head1 = new SpectralLinear(width, config.FeatureHidden, style: config.SpectralNorm, eps: config.SpectralNormEps);
            _head2 = new SpectralLinear(config.FeatureHidden, config.FeatureDim, style: config.SpectralNorm, eps: config.SpectralNormEps);
            register_module("linear_cls_1", _head1);
            register_module("linear_cls_2", _head2);
        }
        _embed = new SpectralEmbedding(config.NumClasses, width, config.SpectralNorm, config.SpectralNormEps);
        register_module("embed", _embed);
        BigGanInit.NormalWeights(this);
    }

    /// <summary>The configuration.</summary>
    public BigGanConfig Config { get; }

    /// <summary>Scores [B, 1] of images <paramref name="x"/> [B, channels, 32, 32] of classes <paramref name="y"/> [B].</summary>
    public override Tensor forward(Tensor x, Tensor y)
    {
        using var outputs = Forward(x, y, withFeatures: false);
        return outputs.Scores.alias();
    }

    /// <summary>Scores and (with the head, unless <paramref name="withFeatures"/> is false) the distillation features.</summary>
    public DiscriminatorOutputs Forward(Tensor x, Tensor y, bool withFeatures = true)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.ndim != 4 || x.shape[1] != Config.Channels || x.shape[2] != Config.Resolution || x.shape[3] != Config.Resolution
            || y.ndim != 1 || y.shape[0] != x.shape[0])
        {
            throw new ArgumentException($"BigGanDiscriminator takes images [B, {Config.Channels}, {Config.Resolution}, {Config.Resolution}] and classes [B]; " +
                $"got [{string.Join(", ", x.shape)}] and [{string.Join(", ", y.shape)}].");
        }
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var block in _blocks)
        {
            h = block.call(h);
        }
        h = nn.functional.relu(h).sum([2, 3]);
        var scores = _linear.call(h) + (_embed.call(y) * h).sum(1, keepdim: true);
        var features = withFeatures && _head1 is not null ? _head2!.call(_head1.call(h)) : null;
        return new DiscriminatorOutputs(scores.MoveToOuterDisposeScope(), features?.MoveToOuterDisposeScope());
    }
}
