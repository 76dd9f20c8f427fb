namespace VkD.Models;

/// <summary>
/// Hyper-parameters of a timm <c>VisionTransformer</c> (DeiT variants: LayerNorm eps 1e-6, qkv bias, MLP ratio 4).
/// </summary>
/// <param name="ImgSize">Square input resolution; fixes the number of position embeddings.</param>
/// <param name="PatchSize">Patch side of the patch embedding (or of the conv stem's reduction for conv-stem models).</param>
/// <param name="InChans">Input channels.</param>
/// <param name="NumClasses">Classes of the head(s); 0 for no head.</param>
/// <param name="EmbedDim">Token width D.</param>
/// <param name="Depth">Number of transformer blocks.</param>
/// <param name="NumHeads">Attention heads per block.</param>
/// <param name="MlpRatio">MLP hidden width / D.</param>
/// <param name="QkvBias">Whether the fused qkv projection has a bias.</param>
/// <param name="DropPathRate">Stochastic depth of the last block (linear ramp from 0 over the blocks).</param>
/// <param name="NormEps">LayerNorm epsilon.</param>
public sealed record VisionTransformerConfig(
    int ImgSize,
    int PatchSize,
    int InChans,
    int NumClasses,
    int EmbedDim,
    int Depth,
    int NumHeads,
    double MlpRatio = 4.0,
    bool QkvBias = true,
    double DropPathRate = 0.0,
    double NormEps = 1e-6);

/// <summary>
/// The VkD / co-advise convolutional stem (<c>conv_embed</c> in the reference <c>models/deit.py</c>): a
/// <c>FirstKernel</c>×<c>FirstKernel</c> stride-<c>FirstStride</c> conv, two 3×3 convs (each conv-BN-ReLU, no bias,
/// <c>StemChannels</c> wide) and a <c>ProjPatch</c>×<c>ProjPatch</c> stride-<c>ProjPatch</c> projection to the token width.
/// The reference is (64, 7, 2, 8): a 16× reduction, 14×14 tokens at 224 px.
/// </summary>
/// <param name="StemChannels">Width of the three stem convolutions.</param>
/// <param name="FirstKernel">Kernel of the first convolution (padding = kernel / 2).</param>
/// <param name="FirstStride">Stride of the first convolution.</param>
/// <param name="ProjPatch">Kernel and stride of the token projection.</param>
public sealed record ConvStemConfig(int StemChannels = 64, int FirstKernel = 7, int FirstStride = 2, int ProjPatch = 8)
{
    /// <summary>Total spatial reduction of the stem.</summary>
    public int Reduction => FirstStride * ProjPatch;
}
