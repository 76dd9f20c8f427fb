namespace VkD.Models;

/// <summary>
/// timm's <c>RegNetCfg</c> for the RegNet-X/Y design space (Radosavovic et al. 2020): per-block widths follow the
/// quantised linear rule <c>w_j = w0 + wa·j</c> snapped to powers of <c>wm</c>; blocks of equal width form a stage.
/// </summary>
/// <param name="Depth">Total number of blocks.</param>
/// <param name="W0">Initial width.</param>
/// <param name="Wa">Width slope.</param>
/// <param name="Wm">Width multiplier between stages.</param>
/// <param name="GroupSize">Channels per group of the 3×3 grouped convolution.</param>
/// <param name="SeRatio">Squeeze-excitation ratio relative to the block's input width (0.25 for RegNetY, 0 for X).</param>
/// <param name="BottleRatio">Bottleneck ratio (1 for all RegNet-X/Y).</param>
/// <param name="StemWidth">Width of the 3×3 stride-2 stem.</param>
/// <param name="GroupMinRatio">torchvision-style rounding of bottleneck widths when non-zero (the <c>_tv</c> variants).</param>
public sealed record RegNetConfig(
    int Depth,
    int W0,
    double Wa,
    double Wm,
    int GroupSize,
    double SeRatio = 0.0,
    double BottleRatio = 1.0,
    int StemWidth = 32,
    double GroupMinRatio = 0.0)
{
    /// <summary>The per-stage layout timm derives from this configuration (<c>generate_regnet</c> +
    /// <c>adjust_widths_groups_comp</c>).</summary>
    public IReadOnlyList<RegNetStageSpec> Stages() => RegNetWidths.StageSpecs(this);
}

/// <summary>One stage of a RegNet: <paramref name="Depth"/> blocks of width <paramref name="Width"/>, the first with
/// stride 2.</summary>
/// <param name="Width">Output width of every block of the stage.</param>
/// <param name="Depth">Number of blocks.</param>
/// <param name="GroupSize">Channels per group of the 3×3 convolution (after width/group compatibility).</param>
public sealed record RegNetStageSpec(int Width, int Depth, int GroupSize);

/// <summary>timm's width generation, kept separate so it can be checked against timm's numbers.</summary>
internal static class RegNetWidths
{
    private const int Quant = 8;

    public static IReadOnlyList<RegNetStageSpec> StageSpecs(RegNetConfig cfg)
    {
        if (cfg.Wa < 0 || cfg.W0 <= 0 || cfg.Wm <= 1 || cfg.W0 % Quant != 0)
        {
            throw new ArgumentException($"Invalid RegNet parameters: wa={cfg.Wa}, w0={cfg.W0}, wm={cfg.Wm} (need wa>=0, w0>0, wm>1, w0 % 8 == 0).", nameof(cfg));
        }
        // generate_regnet: continuous widths, snapped to w0 * wm^k, quantised to multiples of 8 (numpy rounds half to even,
        // as Math.Round does by default).
        var widths = new int[cfg.Depth];
        for (var j = 0; j < cfg.Depth; j++)
        {
            var cont = j * cfg.Wa + cfg.W0;
            var exp = Math.Round(Math.Log(cont / cfg.W0) / Math.Log(cfg.Wm));
            widths[j] = (int)(Math.Round(cfg.W0 * Math.Pow(cfg.Wm, exp) / Quant) * Quant);
        }
        // np.unique(..., return_counts=True): sorted distinct widths with their block counts.
        var stages = widths.GroupBy(w => w).OrderBy(g => g.Key).Select(g => (Width: g.Key, Depth: g.Count())).ToList();

        // adjust_widths_groups_comp
        var result = new List<RegNetStageSpec>();
        foreach (var (width, depth) in stages)
        {
            var bottleneck = (int)(width * cfg.BottleRatio);
            var group = Math.Min(cfg.GroupSize, bottleneck);
            bottleneck = cfg.GroupMinRatio > 0
                ? MakeDivisible(bottleneck, group, cfg.GroupMinRatio)
                : (int)(Math.Round((double)bottleneck / group) * group);
            result.Add(new RegNetStageSpec((int)(bottleneck / cfg.BottleRatio), depth, group));
        }
        return result;
    }

    /// <summary>timm's <c>make_divisible(v, divisor, min_value=None, round_limit)</c>.</summary>
    private static int MakeDivisible(int v, int divisor, double roundLimit)
    {
        var newV = Math.Max(divisor, (int)(v + divisor / 2.0) / divisor * divisor);
        if (newV < roundLimit * v)
        {
            newV += divisor;
        }
        return newV;
    }
}
