namespace VkD.Models.Swin;

/// <summary>
/// Hyper-parameters of ViDT's Swin Transformer with RAM (<c>methods/swin_w_ram.py</c>: <c>SwinTransformer</c> followed
/// by <c>finetune_det('vidt', det_token_num, pos_dim, cross_indices)</c>). Patch embedding Conv(k4, s4) + LayerNorm, no
/// absolute position embedding, qkv bias, LayerNorm eps 1e-5, stochastic depth ramped linearly over all blocks.
/// </summary>
/// <param name="EmbedDim">Width C of stage 0; stage i is C·2^i wide.</param>
/// <param name="Depths">Blocks per stage.</param>
/// <param name="NumHeads">Attention heads per stage.</param>
/// <param name="WindowSize">Window side of the [PATCH] self-attention (7).</param>
/// <param name="MlpRatio">MLP hidden width / block width (4).</param>
/// <param name="DropPathRate">Stochastic depth of the last block.</param>
/// <param name="PatchSize">Patch side of the embedding (4).</param>
/// <param name="InChans">Input channels.</param>
/// <param name="DetTokenNum">Number of [DET] tokens (object queries, 100).</param>
/// <param name="PosDim">Width of the learned [DET] position embedding (256).</param>
/// <param name="NeckDim">Output width of the last stage's patch merging (ViDT hard-codes 256).</param>
/// <param name="CrossIndices">Stages whose [DET] tokens cross-attend to all [PATCH] tokens (ViDT: stage 3 only).</param>
public sealed record SwinRamConfig(
    int EmbedDim,
    IReadOnlyList<int> Depths,
    IReadOnlyList<int> NumHeads,
    int WindowSize = 7,
    double MlpRatio = 4.0,
    double DropPathRate = 0.0,
    int PatchSize = 4,
    int InChans = 3,
    int DetTokenNum = 100,
    int PosDim = 256,
    int NeckDim = 256,
    IReadOnlyList<int>? CrossIndices = null)
{
    /// <summary>Stages with [DET × PATCH] cross-attention (default: the last stage, index 3).</summary>
    public IReadOnlyList<int> CrossStages => CrossIndices ?? [3];

    /// <summary>Number of stages.</summary>
    public int NumStages => Depths.Count;

    /// <summary>Width of stage <paramref name="stage"/>: C·2^stage.</summary>
    public int StageDim(int stage) => EmbedDim << stage;

    /// <summary>ViDT's Swin-nano (C 48, depths 2-2-6-2, heads 3-6-12-24, drop path 0.0).</summary>
    public static SwinRamConfig Nano { get; } = new(48, [2, 2, 6, 2], [3, 6, 12, 24], DropPathRate: 0.0);

    /// <summary>Swin-tiny (C 96, depths 2-2-6-2, heads 3-6-12-24, drop path 0.2).</summary>
    public static SwinRamConfig Tiny { get; } = new(96, [2, 2, 6, 2], [3, 6, 12, 24], DropPathRate: 0.2);

    /// <summary>Swin-small (C 96, depths 2-2-18-2, heads 3-6-12-24, drop path 0.3).</summary>
    public static SwinRamConfig Small { get; } = new(96, [2, 2, 18, 2], [3, 6, 12, 24], DropPathRate: 0.3);

    /// <summary>Swin-base, window 7 (C 128, depths 2-2-18-2, heads 4-8-16-32, drop path 0.3): VkD's ViDT teacher.</summary>
    public static SwinRamConfig Base { get; } = new(128, [2, 2, 18, 2], [4, 8, 16, 32], DropPathRate: 0.3);

    /// <summary>The variant called <paramref name="name"/> (<c>nano</c>, <c>tiny</c>, <c>small</c>, <c>base</c>, with
    /// or without the <c>swin_</c> prefix).</summary>
    public static SwinRamConfig Variant(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.StartsWith("swin_", StringComparison.Ordinal) ? name[5..] : name;
        return key switch
        {
            "nano" => Nano,
            "tiny" => Tiny,
            "small" => Small,
            "base" or "base_win7" => Base,
            _ => throw new ArgumentException($"Unknown Swin variant '{name}'. Known: nano, tiny, small, base.", nameof(name)),
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> when the configuration cannot be built.</summary>
    public void Validate()
    {
        if (Depths.Count == 0 || Depths.Count != NumHeads.Count)
        {
            throw new ArgumentException($"Swin needs one head count per stage: {Depths.Count} depths, {NumHeads.Count} head counts.");
        }
        for (var i = 0; i < Depths.Count; i++)
        {
            if (Depths[i] <= 0 || NumHeads[i] <= 0 || StageDim(i) % NumHeads[i] != 0)
            {
                throw new ArgumentException($"Stage {i}: width {StageDim(i)} must be divisible by {NumHeads[i]} heads and depth {Depths[i]} positive.");
            }
        }
        if (EmbedDim <= 0 || WindowSize < 2 || PatchSize <= 0 || InChans <= 0 || DetTokenNum <= 0 || PosDim <= 0 || NeckDim <= 0)
        {
            throw new ArgumentException("Swin sizes (embed dim, window >= 2, patch, channels, [DET] tokens, widths) must be positive.");
        }
        if (DropPathRate is < 0 or >= 1)
        {
            throw new ArgumentException($"Drop-path rate must be in [0, 1), got {DropPathRate}.");
        }
        if (CrossStages.Count == 0 || CrossStages.Any(s => s < 0 || s >= Depths.Count) || CrossStages.Distinct().Count() != CrossStages.Count)
        {
            throw new ArgumentException($"Cross-attention stages must be distinct stage indices in [0, {Depths.Count}).");
        }
    }
}
