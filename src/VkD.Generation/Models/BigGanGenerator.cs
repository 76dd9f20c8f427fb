using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Generation.Models;

/// <summary>
/// BigGAN's 32×32 class-conditional generator: <c>linear</c> (SN, dim_z → 4·4·4ch), three <see cref="GeneratorBlock"/>s
/// (4→8→16→32), then <c>output_layer</c> = batch norm, ReLU, SN 3×3 conv to the image channels, and tanh. Keys are
/// BigGAN-PyTorch's (<c>linear.*</c>, <c>blocks.{i}.0.*</c>, <c>output_layer.{0,2}.*</c>), so a PyTorch checkpoint
/// of the reference loads as is. Weights are initialised N(0, 0.02) (<c>--G_init N02</c>).
/// </summary>
public sealed class BigGanGenerator : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly SpectralLinear _linear;
    private readonly List<GeneratorBlock> _blocks = [];
    private readonly Sequential _output;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Builds the generator of <paramref name="config"/>.</summary>
    public BigGanGenerator(BigGanConfig config) : base(nameof(BigGanGenerator))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var width = config.Width;
        _linear = new SpectralLinear(config.DimZ, width * BottomWidth * BottomWidth, style: config.SpectralNorm, eps: config.SpectralNormEps);
        register_module("linear", _linear);
        var outer = new List<ModuleList<GeneratorBlock>>();
        for (var i = 0; i < 3; i++)
        {
            var block = new GeneratorBlock(width, width, config.NumClasses, config.SpectralNorm, config.SpectralNormEps, config.BatchNormEps);
            _blocks.Add(block);
            outer.Add(nn.ModuleList(block));
        }
        register_module("blocks", nn.ModuleList(outer.ToArray()));
        _output = nn.Sequential(
            ("0", new BigGanBatchNorm(width, config.BatchNormEps)),
            ("1", nn.ReLU()),
            ("2", new SpectralConv2d(width, config.Channels, style: config.SpectralNorm, eps: config.SpectralNormEps)));
        register_module("output_layer", _output);
        BigGanInit.NormalWeights(this);
    }

    /// <summary>Side of the first feature map.</summary>
    public const int BottomWidth = 4;

    /// <summary>The configuration.</summary>
    public BigGanConfig Config { get; }

    /// <summary>Images in [-1, 1], [B, channels, 32, 32], from noise <paramref name="z"/> [B, dim_z] and int64
    /// classes <paramref name="y"/> [B].</summary>
    public override Tensor forward(Tensor z, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(y);
        if (z.ndim != 2 || z.shape[1] != Config.DimZ || y.ndim != 1 || y.shape[0] != z.shape[0])
        {
            throw new ArgumentException($"BigGanGenerator takes z [B, {Config.DimZ}] and classes [B]; got z [{string.Join(", ", z.shape)}] and y [{string.Join(", ", y.shape)}].");
        }
        using var scope = NewDisposeScope();
        var h = _linear.call(z).view(z.shape[0], -1, BottomWidth, BottomWidth);
        foreach (var block in _blocks)
        {
            h = block.call(h, y);
        }
        return _output.call(h).tanh().MoveToOuterDisposeScope();
    }
}
