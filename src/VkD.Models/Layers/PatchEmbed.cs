using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>
/// timm's <c>PatchEmbed</c>: a <c>patch×patch</c> convolution with stride <c>patch</c>, flattened to tokens
/// [B, (H/p)·(W/p), D] (key <c>proj.*</c>).
/// </summary>
public sealed class PatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d proj;

    /// <summary>Creates the embedding for <paramref name="imgSize"/>-pixel square inputs.</summary>
    public PatchEmbed(int imgSize, int patchSize, int inChans, int embedDim) : base(nameof(PatchEmbed))
    {
        if (imgSize % patchSize != 0)
        {
            throw new ArgumentException($"Image size {imgSize} is not divisible by patch size {patchSize}.", nameof(imgSize));
        }
        GridSize = imgSize / patchSize;
        proj = nn.Conv2d(inChans, embedDim, kernel_size: patchSize, stride: patchSize);
        register_module("proj", proj);
    }

    /// <summary>Patches per side.</summary>
    public int GridSize { get; }

    /// <summary>Number of patch tokens.</summary>
    public int NumPatches => GridSize * GridSize;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return proj.call(x).flatten(2).transpose(1, 2).MoveToOuterDisposeScope();
    }
}
