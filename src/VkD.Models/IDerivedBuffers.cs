namespace VkD.Models;

/// <summary>
/// A model whose state dict holds buffers that are functions of its configuration (Swin's
/// <c>relative_position_index</c> and <c>attn_mask</c>). Checkpoint loading compares the file's values with the
/// model's instead of copying them, so a file built for another window or resolution is refused by name.
/// </summary>
public interface IDerivedBuffers
{
    /// <summary>State-dict keys of those buffers.</summary>
    IReadOnlyCollection<string> DerivedBufferKeys { get; }
}
