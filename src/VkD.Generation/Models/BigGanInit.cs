using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Generation.Models;

/// <summary>BigGAN's <c>init_weights</c> with <c>--G_init N02 --D_init N02</c>.</summary>
public static class BigGanInit
{
    /// <summary>N(0, <paramref name="std"/>) on the weight of every convolution, linear layer and embedding table
    /// in <paramref name="model"/>; biases, batch-norm gains and the spectral-norm vectors are left as built.</summary>
    public static void NormalWeights(nn.Module model, double std = 0.02)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            var weight = module switch
            {
                SpectrallyNormalizedLayer sn => sn.RawWeight,
                Embedding e => e.weight,
                _ => null,
            };
            weight?.normal_(0.0, std);
        }
    }

    /// <summary>Number of trainable values in <paramref name="model"/>.</summary>
    public static long ParameterCount(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.parameters().Sum(p => p.numel());
    }
}
