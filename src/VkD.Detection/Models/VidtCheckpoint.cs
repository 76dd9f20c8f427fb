using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using VkD.Interop.Checkpoints;
using VkD.Models.Swin;
using static TorchSharp.torch;

namespace VkD.Detection.Models;

/// <summary>A ViDT checkpoint that cannot go into the model asked for (another backbone, another head layout, a ViDT+
/// extra, not a ViDT state dict). The message names the file, the key and its shape, and what to pass instead. An
/// <see cref="ArgumentException"/>: the file given does not fit the model asked for (the CLI answers it with exit 2).</summary>
public sealed class VidtCheckpointException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public VidtCheckpointException(string source, string? key, string message)
        : base($"Checkpoint '{source}': {message}")
    {
        CheckpointPath = source;
        Key = key;
    }

    /// <summary>The checkpoint file (or a description of the state dict).</summary>
    public string CheckpointPath { get; }

    /// <summary>The state-dict key the problem was found at, when there is one.</summary>
    public string? Key { get; }
}

/// <summary>
/// What a ViDT state dict holds, read from its key names and shapes (<see cref="VidtCheckpoint.Inspect(string)"/>).
/// </summary>
/// <param name="Backbone">The Swin-RAM configuration the shapes give (window, widths, depths, heads, [DET] tokens,
/// position and neck widths, MLP ratio).</param>
/// <param name="BackboneName">ViDT's <c>--backbone_name</c> of that backbone (<c>swin_nano</c>, <c>swin_tiny</c>,
/// <c>swin_small</c>, <c>swin_base_win7_22k</c>), or null for a size ViDT does not name.</param>
/// <param name="NumClasses">Outputs of <c>class_embed</c>.</param>
/// <param name="HiddenDim">Neck and decoder width (<c>reduced_dim</c>).</param>
/// <param name="DecLayers">Decoder layers.</param>
/// <param name="DimFeedforward">Decoder FFN width.</param>
/// <param name="WithBoxRefine">True when the heads are unshared (ViDT's <c>--with_box_refine True</c>): the file has
/// the <c>transformer.decoder.bbox_embed.*</c> alias, or its 7 box heads differ.</param>
/// <param name="HasAlias">True when the file lists the box heads a second time under
/// <c>transformer.decoder.bbox_embed.*</c> (ViDT writes that; VkD.NET writes it too).</param>
public sealed record VidtCheckpointLayout(SwinRamConfig Backbone, string? BackboneName, int NumClasses, int HiddenDim,
    int DecLayers, int DimFeedforward, bool WithBoxRefine, bool HasAlias)
{
    /// <summary>A detector configuration for this layout; the decoder's heads and sampling points are not visible in
    /// the shapes (only their product is), so they come from <paramref name="nHeads"/> and
    /// <paramref name="decNPoints"/> (ViDT's defaults 8 and 4).</summary>
    public VidtConfig ToConfig(int nHeads = 8, int decNPoints = 4) =>
        new(Backbone, NumClasses, HiddenDim, nHeads, DecLayers, DimFeedforward, 0.1, decNPoints, WithBoxRefine);
}

/// <summary>
/// ViDT checkpoints (naver-ai/vidt <c>main.py</c>: <c>{'model', 'optimizer', 'lr_scheduler', 'epoch', 'args'}</c>, or a
/// bare state dict) in and out of <see cref="VidtDetector"/>, through the project's one reader and loader
/// (<see cref="CheckpointReader"/>, <see cref="CheckpointLoader"/>). Loading is strict: before the key-by-key load the
/// file's layout is compared with the model's, so a checkpoint of another backbone, [DET] count, class count or head
/// layout fails with the key and shape that differ instead of a list of hundreds of mismatches.
/// </summary>
public static partial class VidtCheckpoint
{
    private const string AliasPrefix = "transformer.decoder.bbox_embed.";

    /// <summary>Keys of VkD's detection projectors (<c>patch_projector_{l}</c>, <c>body_det_projector</c>,
    /// <c>neck_det_projector</c>): VkD's <c>vidt/main.py</c> adds them to the model, so its checkpoints' <c>model</c>
    /// entries hold them, as the <c>student</c> entry of <c>vkd detect distill</c>'s checkpoints does. They are not
    /// part of the detector.</summary>
    public static IReadOnlyList<string> DistillationProjectorPrefixes { get; } = ["patch_projector_", "body_det_projector.", "neck_det_projector."];

    /// <summary>How the file is read: the <c>model</c> entry (or <c>state_dict</c> / <c>student</c>, or the root when it
    /// is a state dict),
    /// DDP's <c>module.</c> stripped, the alias kept (it is checked, then excluded with
    /// <see cref="VidtDetector.CheckpointExcludePrefixes"/>), and VkD's distillation projectors dropped
    /// (<see cref="DistillationProjectorPrefixes"/>), so a distilled student loads as the ViDT it is.</summary>
    public static StateDictOptions ReadOptions { get; } = new() { ExcludePrefixes = DistillationProjectorPrefixes };

    // Keys only ViDT+ (EPFF, UQR, IoU-aware, token labels) has.
    private static readonly (string Prefix, string Flag)[] PlusExtras =
    [
        ("fusion.", "--epff True"),
        ("vector_embed.", "--with_vector True"),
        ("iou_embed.", "--iou_aware True"),
        ("transformer.token_embed.", "--token_label True"),
        ("transformer.enc_output.", "--token_label True"),
    ];

    /// <summary>Reads the state dict of <paramref name="path"/> (caller disposes the tensors).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="CheckpointFormatException">Not a readable checkpoint, or no state dict in it.</exception>
    public static Dictionary<string, Tensor> ReadStateDict(string path) => CheckpointReader.ReadStateDict(path, ReadOptions);

    /// <summary>Reads the layout of the ViDT state dict in <paramref name="path"/>.</summary>
    public static VidtCheckpointLayout Inspect(string path)
    {
        var stateDict = ReadStateDict(path);
        try
        {
            return Inspect(stateDict, path);
        }
        finally
        {
            Dispose(stateDict);
        }
    }

    /// <summary>Reads the layout of a ViDT state dict from its key names and shapes.</summary>
    /// <exception cref="VidtCheckpointException">Not a ViDT detector state dict, or a ViDT+ one.</exception>
    public static VidtCheckpointLayout Inspect(IReadOnlyDictionary<string, Tensor> stateDict, string source)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        ArgumentNullException.ThrowIfNull(source);
        const string patchKey = "backbone.patch_embed.proj.weight";
        if (!stateDict.ContainsKey(patchKey))
        {
            if (stateDict.ContainsKey("patch_embed.proj.weight") && stateDict.ContainsKey("layers.0.blocks.0.attn.qkv.weight"))
            {
                throw new VidtCheckpointException(source, patchKey,
                    "this is a Swin backbone checkpoint (keys patch_embed.*, layers.*" + (stateDict.ContainsKey("head.weight") ? ", head.*" : "") +
                    "), not a ViDT detector: load it into the backbone with SwinPretrainedWeights.Load (ViDT's --pre_trained), and pass a ViDT checkpoint to --resume.");
            }
            throw new VidtCheckpointException(source, patchKey,
                $"not a ViDT detector state dict: no '{patchKey}' key (its {stateDict.Count} keys begin {string.Join(", ", stateDict.Keys.Take(4))}).");
        }
        foreach (var (prefix, flag) in PlusExtras)
        {
            if (stateDict.Keys.FirstOrDefault(k => k.StartsWith(prefix, StringComparison.Ordinal)) is { } extra)
            {
                throw new VidtCheckpointException(source, extra,
                    $"this is a ViDT+ checkpoint (key '{extra}', from {flag}); VkD.NET builds ViDT without the ViDT+ extras (EPFF, UQR, IoU-aware, token labels).");
            }
        }
        var patch = Shape(stateDict, patchKey, source);
        var embed = (int)patch[0];
        var depths = new int[4];
        var heads = new int[4];
        var window = 0;
        for (var s = 0; s < 4; s++)
        {
            var stage = $"backbone.layers.{s}.blocks.";
            depths[s] = CountIndexed(stateDict.Keys, stage);
            if (depths[s] == 0)
            {
                throw new VidtCheckpointException(source, stage + "0.norm1.weight", $"not a 4-stage ViDT Swin: no blocks in stage {s}.");
            }
            var table = Shape(stateDict, stage + "0.attn.relative_position_bias_table", source);
            heads[s] = (int)table[1];
            window = (int)Math.Round((Math.Sqrt(table[0]) + 1) / 2);
        }
        var detToken = Shape(stateDict, "backbone.det_token", source);
        var detPos = Shape(stateDict, "backbone.det_pos_embed", source);
        var neck = Shape(stateDict, "backbone.layers.3.downsample.reduction.weight", source);
        var fc1 = Shape(stateDict, "backbone.layers.0.blocks.0.mlp.fc1.weight", source);
        var backbone = new SwinRamConfig(embed, depths, heads, WindowSize: window, MlpRatio: (double)fc1[0] / fc1[1],
            PatchSize: (int)patch[2], InChans: (int)patch[1], DetTokenNum: (int)detToken[1], PosDim: (int)detPos[2], NeckDim: (int)neck[0]);
        var name = KnownBackbones.FirstOrDefault(b => SameSize(b.Config, backbone)).Name;
        if (name is not null)
        {
            backbone = BackboneByName(name) with { DetTokenNum = backbone.DetTokenNum, PosDim = backbone.PosDim, NeckDim = backbone.NeckDim };
        }
        var classEmbed = Shape(stateDict, "class_embed.0.weight", source);
        var decLayers = CountIndexed(stateDict.Keys, "transformer.decoder.layers.");
        var ffn = Shape(stateDict, "transformer.decoder.layers.0.linear1.weight", source);
        var numPred = CountIndexed(stateDict.Keys, "class_embed.");
        var hasAlias = stateDict.Keys.Any(k => k.StartsWith(AliasPrefix, StringComparison.Ordinal));
        if (hasAlias)
        {
            CheckAlias(stateDict, source);
        }
        var refine = hasAlias || !HeadsShared(stateDict, numPred);
        return new VidtCheckpointLayout(backbone, name, (int)classEmbed[0], (int)classEmbed[1], decLayers, (int)ffn[0], refine, hasAlias);
    }

    /// <summary>Throws when <paramref name="layout"/> cannot load into a model built from <paramref name="config"/>,
    /// naming the first key whose shape or presence differs and the flag to change.</summary>
    /// <exception cref="VidtCheckpointException">Another backbone, [DET] count, class count, width, depth or head layout.</exception>
    public static void CheckCompatible(VidtCheckpointLayout layout, VidtConfig config, string source)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(config);
        var have = layout.Backbone;
        var want = config.Backbone;
        if (!SameSize(have, want) || have.MlpRatio != want.MlpRatio || have.PatchSize != want.PatchSize || have.InChans != want.InChans)
        {
            var key = have.EmbedDim != want.EmbedDim || have.PatchSize != want.PatchSize || have.InChans != want.InChans
                ? "backbone.patch_embed.proj.weight"
                : $"backbone.layers.{Enumerable.Range(0, 4).First(s => have.Depths[s] != want.Depths[s] || have.NumHeads[s] != want.NumHeads[s] || have.WindowSize != want.WindowSize || have.MlpRatio != want.MlpRatio)}.blocks";
            throw new VidtCheckpointException(source, key,
                $"it holds a ViDT with a {Describe(have, layout.BackboneName)} backbone (key {key}), but the model is built with {Describe(want, BackboneName(want))}. " +
                (layout.BackboneName is { } n ? $"Pass --backbone_name {n}, or leave it out to take the checkpoint's." : "Leave --backbone_name out to take the checkpoint's."));
        }
        Require(have.DetTokenNum == want.DetTokenNum, source, "backbone.det_token",
            $"[1, {have.DetTokenNum}, {have.EmbedDim}]: the checkpoint has {have.DetTokenNum} [DET] tokens, the model {want.DetTokenNum} (--det_token_num {have.DetTokenNum}).");
        Require(have.PosDim == want.PosDim, source, "backbone.det_pos_embed",
            $"[1, {have.DetTokenNum}, {have.PosDim}]: position width {have.PosDim}, the model {want.PosDim} (--pos_dim / --reduced_dim {have.PosDim}).");
        Require(have.NeckDim == want.NeckDim, source, "backbone.layers.3.downsample.reduction.weight",
            $"last merge width {have.NeckDim}, the model {want.NeckDim}.");
        Require(layout.HiddenDim == config.HiddenDim, source, "class_embed.0.weight",
            $"[{layout.NumClasses}, {layout.HiddenDim}]: decoder width {layout.HiddenDim}, the model {config.HiddenDim} (--reduced_dim {layout.HiddenDim}).");
        Require(layout.NumClasses == config.NumClasses, source, "class_embed.0.weight",
            $"[{layout.NumClasses}, {layout.HiddenDim}]: {layout.NumClasses} classes, the model {config.NumClasses}.");
        Require(layout.DecLayers == config.DecLayers, source, $"transformer.decoder.layers.{Math.Min(layout.DecLayers, config.DecLayers)}",
            $"{layout.DecLayers} decoder layers, the model {config.DecLayers} (--dec_layers {layout.DecLayers}).");
        Require(layout.DimFeedforward == config.DimFeedforward, source, "transformer.decoder.layers.0.linear1.weight",
            $"[{layout.DimFeedforward}, {layout.HiddenDim}]: FFN width {layout.DimFeedforward}, the model {config.DimFeedforward} (--dim_feedforward {layout.DimFeedforward}).");
        if (layout.WithBoxRefine != config.WithBoxRefine)
        {
            var evidence = layout.HasAlias ? $"it has the {AliasPrefix}* entries" : "its class and box heads are unshared (they differ)";
            throw new VidtCheckpointException(source, layout.HasAlias ? AliasPrefix + "0.layers.0.weight" : "bbox_embed.1.layers.0.weight", layout.WithBoxRefine
                ? $"it was trained with --with_box_refine True ({evidence}), but the model is built without box refinement. Pass --with_box_refine True."
                : "it was trained without box refinement (one class and one box head shared by every prediction, no " + AliasPrefix +
                  "* entries), but the model is built with it. Pass --with_box_refine False.");
        }
    }

    /// <summary>Loads the ViDT checkpoint at <paramref name="path"/> into <paramref name="model"/>, strictly.</summary>
    /// <exception cref="VidtCheckpointException">The file's layout does not fit the model.</exception>
    /// <exception cref="CheckpointMismatchException">A key is missing, unexpected or of another shape.</exception>
    /// <exception cref="CheckpointFormatException">Not a readable checkpoint.</exception>
    public static LoadReport Load(VidtDetector model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        var stateDict = ReadStateDict(path);
        try
        {
            return LoadStateDict(model, stateDict, path);
        }
        finally
        {
            Dispose(stateDict);
        }
    }

    /// <summary>Loads a ViDT state dict (alias entries allowed) into <paramref name="model"/>, strictly.</summary>
    public static LoadReport LoadStateDict(VidtDetector model, IReadOnlyDictionary<string, Tensor> stateDict, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stateDict);
        CheckCompatible(Inspect(stateDict, source), model.Config, source);
        var kept = stateDict.Where(kv => !VidtDetector.CheckpointExcludePrefixes.Any(p => kv.Key.StartsWith(p, StringComparison.Ordinal)))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return CheckpointLoader.LoadStateDict(model, kept, strict: true, source);
    }

    /// <summary>Builds the detector a checkpoint holds (<see cref="Inspect(string)"/> → <see cref="VidtCheckpointLayout.ToConfig"/>,
    /// or <paramref name="config"/> when given, which must then fit) and loads it; the model is in eval mode.</summary>
    public static (VidtDetector Model, LoadReport Report) LoadModel(string path, VidtConfig? config = null, int nHeads = 8, int decNPoints = 4)
    {
        var stateDict = ReadStateDict(path);
        try
        {
            var layout = Inspect(stateDict, path);
            config ??= layout.ToConfig(nHeads, decNPoints);
            CheckCompatible(layout, config, path);
            var model = new VidtDetector(config);
            try
            {
                var report = LoadStateDict(model, stateDict, path);
                model.eval();
                return (model, report);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        finally
        {
            Dispose(stateDict);
        }
    }

    /// <summary>The model's state dict in ViDT's order, with the <c>transformer.decoder.bbox_embed.*</c> alias entries
    /// ViDT's box refinement adds (between the decoder layers and <c>transformer.reference_points</c>), so PyTorch's ViDT
    /// loads it with <c>load_state_dict</c> as it loads its own.</summary>
    public static Dictionary<string, Tensor> StateDict(VidtDetector model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var own = model.state_dict();
        var order = new List<string>();
        PyTorchOrder(model, "", order);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var aliasWritten = !model.Config.WithBoxRefine;
        foreach (var key in order.Where(own.ContainsKey).Concat(own.Keys.Except(order)))
        {
            if (!aliasWritten && key.StartsWith("transformer.", StringComparison.Ordinal) && !key.StartsWith("transformer.decoder.", StringComparison.Ordinal)
                && key != "transformer.level_embed")
            {
                foreach (var boxKey in order.Where(k => k.StartsWith("bbox_embed.", StringComparison.Ordinal)))
                {
                    result["transformer.decoder." + boxKey] = own[boxKey];
                }
                aliasWritten = true;
            }
            result[key] = own[key];
        }
        return result;
    }

    // PyTorch's state_dict order: a module's own parameters, then its own buffers, then each child in registration
    // order (TorchSharp lists buffers after all parameters).
    private static void PyTorchOrder(nn.Module module, string prefix, List<string> order)
    {
        order.AddRange(module.named_parameters(recurse: false).Select(p => prefix + p.name));
        order.AddRange(module.named_buffers(recurse: false).Select(b => prefix + b.name));
        foreach (var (name, child) in module.named_children())
        {
            PyTorchOrder(child, $"{prefix}{name}.", order);
        }
    }

    /// <summary>Writes <paramref name="model"/> as ViDT's <c>main.py</c> does: <c>{'model': state dict with the alias,
    /// 'epoch': epoch}</c> plus <paramref name="extraEntries"/> (e.g. <c>optimizer</c>, <c>lr_scheduler</c>); readable by
    /// <c>torch.load</c> and by <see cref="Load"/>.</summary>
    public static void Save(VidtDetector model, string path, int epoch = 0, IDictionary<string, object?>? extraEntries = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var entries = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["model"] = StateDict(model).ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal),
        };
        foreach (var (k, v) in extraEntries ?? new Dictionary<string, object?>())
        {
            entries[k] = v;
        }
        entries["epoch"] = epoch;
        CheckpointWriter.Write(path, entries);
    }

    /// <summary>ViDT's <c>--backbone_name</c> for a backbone of a known size, else null.</summary>
    public static string? BackboneName(SwinRamConfig backbone) => KnownBackbones.FirstOrDefault(b => SameSize(b.Config, backbone)).Name;

    /// <summary>The Swin-RAM configuration for ViDT's <c>--backbone_name</c> (<c>swin_nano</c>, <c>swin_tiny</c>,
    /// <c>swin_small</c>, <c>swin_base_win7_22k</c>).</summary>
    /// <exception cref="ArgumentException">Another name (ViDT's CoaT and Swin-large are not built here).</exception>
    public static SwinRamConfig BackboneByName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name is "swin_base_win7" or "swin_base" ? "swin_base_win7_22k" : name;
        var match = KnownBackbones.FirstOrDefault(b => b.Name == key);
        return match.Config ?? throw new ArgumentException(
            $"Unknown --backbone_name '{name}'. Known: {string.Join(", ", KnownBackbones.Select(b => b.Name))}.", nameof(name));
    }

    private static readonly (string Name, SwinRamConfig Config)[] KnownBackbones =
    [
        ("swin_nano", SwinRamConfig.Nano),
        ("swin_tiny", SwinRamConfig.Tiny),
        ("swin_small", SwinRamConfig.Small),
        ("swin_base_win7_22k", SwinRamConfig.Base),
    ];

    private static bool SameSize(SwinRamConfig a, SwinRamConfig b) =>
        a.EmbedDim == b.EmbedDim && a.WindowSize == b.WindowSize && a.Depths.SequenceEqual(b.Depths) && a.NumHeads.SequenceEqual(b.NumHeads);

    private static string Describe(SwinRamConfig c, string? name) => string.Create(CultureInfo.InvariantCulture,
        $"{name ?? "custom Swin"} (embed_dim {c.EmbedDim}, depths {string.Join("-", c.Depths)}, heads {string.Join("-", c.NumHeads)}, window {c.WindowSize})");

    private static void Require(bool condition, string source, string key, string message)
    {
        if (!condition)
        {
            throw new VidtCheckpointException(source, key, $"{key} {message}");
        }
    }

    private static long[] Shape(IReadOnlyDictionary<string, Tensor> stateDict, string key, string source) =>
        stateDict.TryGetValue(key, out var t)
            ? t.shape
            : throw new VidtCheckpointException(source, key, $"not a complete ViDT detector state dict: key '{key}' is missing.");

    // Number of consecutive indices i with some key "<prefix>i.".
    private static int CountIndexed(IEnumerable<string> keys, string prefix)
    {
        var indices = new HashSet<int>();
        foreach (var key in keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal) && IndexPattern().Match(key, prefix.Length) is { Success: true } m)
            {
                indices.Add(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }
        var n = 0;
        while (indices.Contains(n))
        {
            n++;
        }
        return n;
    }

    [GeneratedRegex(@"\G(\d+)\.")]
    private static partial Regex IndexPattern();

    // Without box refinement ViDT registers one head pair under every index, so every copy is the same tensor; with it
    // the clones start equal except bbox_embed.0's last bias (-2 on w, h), so unshared heads always differ somewhere.
    private static bool HeadsShared(IReadOnlyDictionary<string, Tensor> stateDict, int numPred)
    {
        foreach (var (key, value) in stateDict)
        {
            foreach (var head in new[] { "class_embed.0.", "bbox_embed.0." })
            {
                if (!key.StartsWith(head, StringComparison.Ordinal))
                {
                    continue;
                }
                var rest = key[head.Length..];
                var family = head[..^2];
                for (var i = 1; i < numPred; i++)
                {
                    if (!stateDict.TryGetValue($"{family}{i}.{rest}", out var other) || !Same(other, value))
                    {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private static void CheckAlias(IReadOnlyDictionary<string, Tensor> stateDict, string source)
    {
        foreach (var (key, value) in stateDict.Where(kv => kv.Key.StartsWith(AliasPrefix, StringComparison.Ordinal)))
        {
            var own = key["transformer.decoder.".Length..];
            if (!stateDict.TryGetValue(own, out var twin) || !Same(twin, value))
            {
                throw new VidtCheckpointException(source, key,
                    $"'{key}' [{string.Join(", ", value.shape)}] should be the same tensor as '{own}' (ViDT registers the box heads twice), but " +
                    (twin is null ? "that key is missing." : $"it differs ([{string.Join(", ", twin.shape)}])."));
            }
        }
    }

    private static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape))
        {
            return false;
        }
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    private static void Dispose(Dictionary<string, Tensor> stateDict)
    {
        foreach (var t in stateDict.Values)
        {
            t.Dispose();
        }
    }
}
