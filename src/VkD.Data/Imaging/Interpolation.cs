namespace VkD.Data.Imaging;

/// <summary>Resampling filters, with PIL's definitions.</summary>
public enum Interpolation
{
    /// <summary>Nearest neighbour.</summary>
    Nearest,

    /// <summary>Triangle filter (support 1).</summary>
    Bilinear,

    /// <summary>Keys cubic; a = -0.5 for resizing (PIL's Resample.c), a = -1 for affine warps (PIL's Geometry.c).</summary>
    Bicubic,
}
