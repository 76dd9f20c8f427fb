using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Interop.Checkpoints;

/// <summary>
/// Copies a state dict into a TorchSharp module by key (PyTorch's <c>load_state_dict</c>), strict by default.
/// </summary>
public static class CheckpointLoader
{
    /// <summary>Reads <paramref name="path"/> with <paramref name="options"/> and loads it into <paramref name="module"/>.</summary>
    /// <exception cref="CheckpointMismatchException">Strict load with missing/unexpected keys or shape mismatches.</exception>
    /// <exception cref="CheckpointFormatException">The file is not a readable checkpoint.</exception>
    public static LoadReport Load(nn.Module module, string path, StateDictOptions? options = null, bool strict = true)
    {
        var stateDict = CheckpointReader.ReadStateDict(path, options);
        try
        {
            return LoadStateDict(module, stateDict, strict, path);
        }
        finally
        {
            foreach (var t in stateDict.Values)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>
    /// Loads <paramref name="stateDict"/> into <paramref name="module"/>. Strict: nothing is copied unless every key
    /// matches with the same shape, else <see cref="CheckpointMismatchException"/>. Non-strict: matching keys are
    /// copied and the returned report lists the rest (show <see cref="LoadReport.Describe"/> as a warning).
    /// Values are converted to the module's dtype. Buffers a module declares as derived from its configuration
    /// (<see cref="VkD.Models.IDerivedBuffers"/>: Swin's <c>relative_position_index</c>, <c>attn_mask</c>) are compared
    /// with the module's values instead of copied; a difference is a mismatch (<see cref="LoadReport.ValueMismatches"/>).
    /// </summary>
    public static LoadReport LoadStateDict(nn.Module module, IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true, string source = "state dict")
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(stateDict);
        var target = module.state_dict();
        var missing = new List<string>();
        var mismatches = new List<ShapeMismatch>();
        var matched = new List<string>();
        foreach (var (key, tensor) in target)
        {
            if (!stateDict.TryGetValue(key, out var value))
            {
                missing.Add(key);
            }
            else if (!tensor.shape.SequenceEqual(value.shape))
            {
                mismatches.Add(new ShapeMismatch(key, tensor.shape, value.shape));
            }
            else
            {
                matched.Add(key);
            }
        }
        var unexpected = stateDict.Keys.Where(k => !target.ContainsKey(k)).ToList();
        var valueMismatches = new List<string>();
        if (module is VkD.Models.IDerivedBuffers derived)
        {
            var keys = derived.DerivedBufferKeys.ToHashSet(StringComparer.Ordinal);
            valueMismatches.AddRange(matched.Where(k => keys.Contains(k) && !SameValues(target[k], stateDict[k])));
            matched.RemoveAll(keys.Contains);
        }
        var report = new LoadReport(matched, missing, unexpected, mismatches) { ValueMismatches = valueMismatches };
        if (strict && !report.IsExact)
        {
            throw new CheckpointMismatchException(source, report with { Loaded = [] });
        }
        using (no_grad())
        {
            foreach (var key in matched)
            {
                target[key].copy_(stateDict[key]);
            }
        }
        return report;
    }

    private static bool SameValues(Tensor model, Tensor file)
    {
        using var scope = NewDisposeScope();
        return model.eq(file.to(model.dtype, model.device)).all().item<bool>();
    }
}
