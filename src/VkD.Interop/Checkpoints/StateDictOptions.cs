namespace VkD.Interop.Checkpoints;

/// <summary>
/// How <see cref="CheckpointReader.ReadStateDict"/> turns a checkpoint file into a flat state dict.
/// Defaults handle plain state dicts, timm/DeiT files (<c>model</c>), Lightning-style files (<c>state_dict</c>) and
/// the VkD release (<c>student</c>, DDP <c>module.</c> prefixes).
/// </summary>
public sealed record StateDictOptions
{
    /// <summary>Entry to use (e.g. <c>"student_ema"</c>); null picks the first of <see cref="DefaultEntries"/> present,
    /// or the root when it holds tensors only.</summary>
    public string? Entry { get; init; }

    /// <summary>Entries tried, in order, when <see cref="Entry"/> is null.</summary>
    public IReadOnlyList<string> DefaultEntries { get; init; } = ["model", "state_dict", "student"];

    /// <summary>Prefixes removed from the start of every key (repeatedly, so <c>module.module.</c> also goes).</summary>
    public IReadOnlyList<string> StripPrefixes { get; init; } = ["module."];

    /// <summary>When set, keeps only keys starting with this prefix and removes it (after <see cref="StripPrefixes"/>),
    /// e.g. <c>"projector."</c> to hand the VkD projector's parametrization keys to a projector module.</summary>
    public string? SelectPrefix { get; init; }

    /// <summary>Keys starting with any of these (after prefix stripping) are dropped, e.g. <c>"projector."</c> when
    /// loading a VkD student checkpoint into the bare student model.</summary>
    public IReadOnlyList<string> ExcludePrefixes { get; init; } = [];

    /// <summary>Renames keys after the other steps (return null to drop a key); see <see cref="KeyMaps"/>.</summary>
    public Func<string, string?>? KeyMap { get; init; }
}
