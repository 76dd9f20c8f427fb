namespace VkD.Generation.Models;

/// <summary>
/// The shape of a 32×32 class-conditional BigGAN (the <c>arch[32]</c> of BigGAN-PyTorch, as DiffAugment and KD-DLGAN
/// train it on CIFAR): every block is <c>4·Ch</c> channels wide. The defaults are the reference's (<c>--G_ch 64
/// --D_ch 64 --dim_z 128</c>, SN eps 1e-8 from BigGAN's <c>utils.py</c>, BN eps 1e-5, no shared embedding, no
/// hierarchical z, no attention).
/// </summary>
public sealed record BigGanConfig
{
    /// <summary>Channel multiplier <c>ch</c> of G and D (64 in the reference).</summary>
    public int Ch { get; init; } = 64;

    /// <summary>Noise dimension.</summary>
    public int DimZ { get; init; } = 128;

    /// <summary>Number of classes (10 for CIFAR-10, Fashion-MNIST).</summary>
    public int NumClasses { get; init; } = 10;

    /// <summary>Image channels (3; 1 for grey-scale data).</summary>
    public int Channels { get; init; } = 3;

    /// <summary>Which spectral normalisation (and state-dict layout) every layer uses.</summary>
    public SpectralNormStyle SpectralNorm { get; init; } = SpectralNormStyle.BigGan;

    /// <summary>Floor of the norms in the power iteration.</summary>
    public double SpectralNormEps { get; init; } = 1e-8;

    /// <summary>Added to the variance in G's batch norms.</summary>
    public double BatchNormEps { get; init; } = 1e-5;

    /// <summary>D has KD-DLGAN's feature head for distillation (<c>linear_cls_1</c>, <c>linear_cls_2</c>).</summary>
    public bool FeatureHead { get; init; }

    /// <summary>Width of <c>linear_cls_1</c> (1024 in KD-DLGAN).</summary>
    public int FeatureHidden { get; init; } = 1024;

    /// <summary>Width of the feature head's output, the distilled feature (512 in KD-DLGAN: CLIP ViT-B/32's).</summary>
    public int FeatureDim { get; init; } = 512;

    /// <summary>Image side; the 32×32 arch (three ×2 blocks from 4×4) is the only one.</summary>
    public int Resolution => 32;

    /// <summary>Channels of every block, <c>4·Ch</c>.</summary>
    public int Width => 4 * Ch;

    /// <summary>Throws a clear exception for an impossible configuration.</summary>
    public void Validate()
    {
        if (Ch <= 0 || DimZ <= 0 || NumClasses <= 0 || Channels <= 0 || FeatureHidden <= 0 || FeatureDim <= 0)
        {
            throw new ArgumentException($"BigGAN: ch ({Ch}), dim_z ({DimZ}), classes ({NumClasses}), channels ({Channels}) and the feature head " +
                $"sizes ({FeatureHidden}, {FeatureDim}) must be positive.");
        }
        if (!(SpectralNormEps > 0) || !(BatchNormEps > 0))
        {
            throw new ArgumentException($"BigGAN: the spectral-norm eps ({SpectralNormEps}) and batch-norm eps ({BatchNormEps}) must be positive.");
        }
    }
}
