using VkD.Interop.Checkpoints;
using VkD.Models.Swin;
using static TorchSharp.torch;

namespace VkD.Detection.Models;

/// <summary>
/// ImageNet Swin weights into ViDT's backbone, as ViDT's <c>--pre_trained PATH</c> does
/// (<c>swin_nano(pretrained=...)</c>: <c>load_state_dict(checkpoint['model'], strict=False)</c> before
/// <c>finetune_det</c>). Files: the Swin release (<c>swin_tiny_patch4_window7_224.pth</c>, ...) and ViDT's
/// <c>swin_nano_patch4_window7_224.pth</c>, a <c>model</c> entry with <c>patch_embed.*</c>, <c>layers.*</c> (with
/// <c>relative_position_index</c> and <c>attn_mask</c> buffers), <c>norm.*</c> and <c>head.*</c>.
/// </summary>
public static class SwinPretrainedWeights
{
    /// <summary>Copies every key the backbone shares with the checkpoint and returns the report: missing keys are
    /// ViDT's additions ([DET] tokens and position embeddings, <c>det_pos_linear</c>, the last merge, each merge's
    /// <c>expansion</c>/<c>norm2</c>, <c>norm1..3</c>), unexpected ones the classifier's (<c>head.*</c>, <c>norm.*</c>,
    /// <c>attn_mask</c>). As in PyTorch's non-strict load, a shape mismatch is an error; so is a file that is not a
    /// Swin classification checkpoint.</summary>
    /// <exception cref="VidtCheckpointException">Another Swin size or window (the key and both shapes are named), a
    /// ViDT detector checkpoint, or no Swin keys.</exception>
    public static LoadReport Load(SwinTransformerRam backbone, string path)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        var stateDict = CheckpointReader.ReadStateDict(path);
        try
        {
            return LoadStateDict(backbone, stateDict, path);
        }
        finally
        {
            foreach (var t in stateDict.Values)
            {
                t.Dispose();
            }
        }
    }

    /// <summary><see cref="Load"/> from a state dict in memory.</summary>
    public static LoadReport LoadStateDict(SwinTransformerRam backbone, IReadOnlyDictionary<string, Tensor> stateDict, string source)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(stateDict);
        if (stateDict.ContainsKey("backbone.patch_embed.proj.weight"))
        {
            throw new VidtCheckpointException(source, "backbone.patch_embed.proj.weight",
                "this is a ViDT detector checkpoint (keys backbone.*, transformer.*), not ImageNet Swin weights: pass it to --resume (VidtCheckpoint.Load).");
        }
        if (!stateDict.ContainsKey("patch_embed.proj.weight"))
        {
            throw new VidtCheckpointException(source, "patch_embed.proj.weight",
                $"not a Swin checkpoint: no 'patch_embed.proj.weight' (its {stateDict.Count} keys begin {string.Join(", ", stateDict.Keys.Take(4))}).");
        }
        // Shapes are checked before anything is copied, so a refused file leaves the backbone as it was.
        var mismatches = backbone.state_dict()
            .Where(kv => stateDict.TryGetValue(kv.Key, out var v) && !v.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => new ShapeMismatch(kv.Key, kv.Value.shape, stateDict[kv.Key].shape)).ToList();
        if (mismatches.Count > 0)
        {
            throw new VidtCheckpointException(source, mismatches[0].Name,
                $"Swin weights of another size or window: {string.Join("; ", mismatches.Take(3))}" +
                (mismatches.Count > 3 ? $" and {mismatches.Count - 3} more" : "") +
                $". The backbone is embed_dim {backbone.Config.EmbedDim}, depths {string.Join("-", backbone.Config.Depths)}, window {backbone.Config.WindowSize}.");
        }
        var report = CheckpointLoader.LoadStateDict(backbone, stateDict, strict: false, source);
        return report;
    }
}
