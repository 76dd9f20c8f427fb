using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Generation.Models;

/// <summary>Which spectral normalisation a layer applies, and so which state-dict keys it has.</summary>
public enum SpectralNormStyle
{
    /// <summary>
    /// BigGAN's own <c>layers.SN</c>, which DiffAugment-BigGAN, LeCam-GAN and KD-DLGAN use: keys <c>weight</c>,
    /// <c>bias</c>, <c>u0</c> [1, out], <c>sv0</c> [1]. Every forward takes one power-iteration step from <c>u0</c>
    /// (<c>v = normalize(u0 W)</c>, <c>u = normalize(v Wᵀ)</c>, <c>σ = v Wᵀ uᵀ</c>); training stores <c>u</c> and
    /// <c>σ</c>, eval takes the step but stores nothing.
    /// </summary>
    BigGan,

    /// <summary>
    /// <c>torch.nn.utils.spectral_norm</c>: keys <c>weight_orig</c>, <c>bias</c>, <c>weight_u</c> [out],
    /// <c>weight_v</c> [in]. Training takes one step (<c>v = normalize(Wᵀu)</c>, <c>u = normalize(W v)</c>) and stores
    /// both; eval uses the stored vectors without iterating. <c>σ = uᵀ W v</c>.
    /// </summary>
    PyTorch,
}

/// <summary>
/// A layer whose weight is divided by its largest singular value, estimated by power iteration (Miyato et al.), with
/// the gradient flowing through <c>W</c> in <c>σ</c> only, as both reference implementations do. The weight is viewed
/// as a matrix [out, in·k·k]. Subclasses apply the normalised weight.
/// </summary>
public abstract class SpectrallyNormalizedLayer : nn.Module<Tensor, Tensor>
{
    // Looked up by name on every use: Module.to(device/dtype) replaces the registered tensors.
    private readonly string _weightKey;
    private readonly string _uKey;
    private readonly bool _hasBias;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the layer around an uninitialised weight of <paramref name="weightShape"/>.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="weightShape">Shape of the weight; dimension 0 is the output.</param>
    /// <param name="bias">With a bias of size <c>weightShape[0]</c>.</param>
    /// <param name="fanIn">Fan-in of PyTorch's default initialisation.</param>
    /// <param name="style">Which spectral normalisation (and key layout).</param>
    /// <param name="eps">Floor of the norms in the power iteration (BigGAN's runs pass 1e-8; torch's default is 1e-12).</param>
    protected SpectrallyNormalizedLayer(string name, long[] weightShape, bool bias, long fanIn, SpectralNormStyle style, double eps)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(weightShape);
        if (!(eps > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "The spectral-norm eps must be > 0.");
        }
        Style = style;
        Eps = eps;
        var outputs = weightShape[0];
        var inputs = weightShape.Skip(1).Aggregate(1L, (a, b) => a * b);
        Parameter weight;
        Parameter? biasParameter = null;
        using (no_grad())
        {
            // PyTorch's default bound 1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)); BigGAN's N(0, 0.02) init
            // replaces the weight, never the bias.
            var bound = 1.0 / Math.Sqrt(fanIn);
            weight = new Parameter(empty(weightShape).uniform_(-bound, bound));
            if (bias)
            {
                biasParameter = new Parameter(empty(outputs).uniform_(-bound, bound));
            }
        }
        _hasBias = bias;
        if (style == SpectralNormStyle.BigGan)
        {
            _weightKey = "weight";
            _uKey = "u0";
            register_parameter("weight", weight);
            if (biasParameter is not null)
            {
                register_parameter("bias", biasParameter);
            }
            register_buffer("u0", randn(1, outputs));
            register_buffer("sv0", ones(1));
        }
        else
        {
            _weightKey = "weight_orig";
            _uKey = "weight_u";
            if (biasParameter is not null)
            {
                register_parameter("bias", biasParameter);
            }
            register_parameter("weight_orig", weight);
            register_buffer("weight_u", nn.functional.normalize(randn(outputs), dim: 0, eps: eps));
            register_buffer("weight_v", nn.functional.normalize(randn(inputs), dim: 0, eps: eps));
        }
    }

    /// <summary>The spectral normalisation applied.</summary>
    public SpectralNormStyle Style { get; }

    /// <summary>Floor of the norms in the power iteration.</summary>
    public double Eps { get; }

    /// <summary>The unnormalised weight (<c>weight</c>, or <c>weight_orig</c> in the PyTorch style).</summary>
    public Parameter RawWeight => get_parameter(_weightKey)!;

    /// <summary>The bias, if any.</summary>
    public Parameter? Bias => _hasBias ? get_parameter("bias") : null;

    /// <summary>The weight divided by the power-iteration estimate of its spectral norm; in training mode the
    /// estimate's vectors are updated in place.</summary>
    public Tensor NormalizedWeight()
    {
        using var scope = NewDisposeScope();
        var weight = RawWeight;
        var stored = get_buffer(_uKey)!;
        var w = weight.view(weight.shape[0], -1);
        Tensor sigma;
        if (Style == SpectralNormStyle.BigGan)
        {
            Tensor u, v;
            using (no_grad())
            {
                v = nn.functional.normalize(stored.matmul(w), eps: Eps);
                u = nn.functional.normalize(v.matmul(w.t()), eps: Eps);
                if (training)
                {
                    stored.copy_(u);
                }
            }
            sigma = v.matmul(w.t()).matmul(u.t()).squeeze();
            if (training)
            {
                using var _ = no_grad();
                get_buffer("sv0")!.copy_(sigma);
            }
        }
        else
        {
            var storedV = get_buffer("weight_v")!;
            var u = stored;
            var v = storedV;
            if (training)
            {
                using var _ = no_grad();
                v = nn.functional.normalize(w.t().mv(stored), dim: 0, eps: Eps);
                u = nn.functional.normalize(w.mv(v), dim: 0, eps: Eps);
                storedV.copy_(v);
                stored.copy_(u);
            }
            sigma = u.dot(w.mv(v));
        }
        return (weight / sigma).MoveToOuterDisposeScope();
    }
}

/// <summary>A 2-D convolution (stride 1, square kernel) with a spectrally normalised weight: BigGAN's <c>SNConv2d</c>.</summary>
public sealed class SpectralConv2d : SpectrallyNormalizedLayer
{
    private readonly long _padding;

    /// <summary>Creates the convolution.</summary>
    public SpectralConv2d(long inChannels, long outChannels, long kernelSize = 3, long padding = 1, bool bias = true,
        SpectralNormStyle style = SpectralNormStyle.BigGan, double eps = 1e-8)
        : base(nameof(SpectralConv2d), [outChannels, inChannels, kernelSize, kernelSize], bias, inChannels * kernelSize * kernelSize, style, eps)
    {
        _padding = padding;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var weight = NormalizedWeight();
        return nn.functional.conv2d(input, weight, Bias, padding: [_padding, _padding]);
    }
}

/// <summary>A fully connected layer with a spectrally normalised weight: BigGAN's <c>SNLinear</c>.</summary>
public sealed class SpectralLinear : SpectrallyNormalizedLayer
{
    /// <summary>Creates the layer.</summary>
    public SpectralLinear(long inFeatures, long outFeatures, bool bias = true, SpectralNormStyle style = SpectralNormStyle.BigGan, double eps = 1e-8)
        : base(nameof(SpectralLinear), [outFeatures, inFeatures], bias, inFeatures, style, eps)
    {
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var weight = NormalizedWeight();
        return nn.functional.linear(input, weight, Bias);
    }
}

/// <summary>
/// An embedding table with a spectrally normalised weight [num, dim] (BigGAN's <c>SNEmbedding</c>, D's class
/// projection). Its default initialisation is N(0, 1), as <c>nn.Embedding</c>'s.
/// </summary>
public sealed class SpectralEmbedding : SpectrallyNormalizedLayer
{
    /// <summary>Creates the table.</summary>
    public SpectralEmbedding(long numEmbeddings, long embeddingDim, SpectralNormStyle style = SpectralNormStyle.BigGan, double eps = 1e-8)
        : base(nameof(SpectralEmbedding), [numEmbeddings, embeddingDim], bias: false, fanIn: 1, style, eps)
    {
        using var _ = no_grad();
        RawWeight.normal_();
    }

    /// <summary>Rows of the normalised table for the int64 indices <paramref name="input"/>.</summary>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var weight = NormalizedWeight();
        return weight.index_select(0, input.flatten()).view([.. input.shape, weight.shape[1]]);
    }
}
