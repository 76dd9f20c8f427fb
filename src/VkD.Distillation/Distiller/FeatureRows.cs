using static TorchSharp.torch;

namespace VkD.Distillation.Distiller;

/// <summary>How a feature tensor becomes the rows [N, D] a projector, a normalisation and a distance work on.</summary>
public enum FeatureRows
{
    /// <summary>[B, D] as it is: one row per image (pooled features, the classification pair).</summary>
    Vector,

    /// <summary>[B, N, D] to [B·N, D]: one row per token (ViT tokens, ViDT's [DET] tokens and decoder states).</summary>
    Tokens,

    /// <summary>[B, C, H, W] to [B·H·W, C]: one row per pixel of a feature map (CNN maps, ViDT's patch levels).</summary>
    Map,
}

/// <summary>The reshapes of <see cref="FeatureRows"/>.</summary>
public static class FeatureRowsExtensions
{
    /// <summary>Rows [N, D] of <paramref name="x"/>.</summary>
    /// <exception cref="ArgumentException">The rank does not fit the layout; the message names the term.</exception>
    public static Tensor ToRows(this FeatureRows rows, Tensor x, string term, string side)
    {
        var want = rows switch { FeatureRows.Vector => 2, FeatureRows.Tokens => 3, _ => 4 };
        if (x.ndim != want)
        {
            throw new ArgumentException(
                $"Loss term '{term}': the {side} feature must be {Describe(rows)} for rows={rows}, got [{string.Join(", ", x.shape)}].");
        }
        return rows switch
        {
            FeatureRows.Vector => x,
            FeatureRows.Tokens => x.reshape(-1, x.shape[2]),
            _ => x.flatten(2).transpose(1, 2).reshape(-1, x.shape[1]),
        };
    }

    /// <summary>The expected shape in words.</summary>
    public static string Describe(this FeatureRows rows) => rows switch
    {
        FeatureRows.Vector => "[B, D]",
        FeatureRows.Tokens => "[B, N, D]",
        _ => "[B, C, H, W]",
    };
}
