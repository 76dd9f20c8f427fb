namespace VkD.Data.Loading;

/// <summary>
/// K recorded augmentations per image, cycled by epoch (FKD-style): epoch e uses draw e mod K of every image, and a
/// draw's random stream depends only on (seed, draw, image), never on the epoch's order or the rank. Recording the
/// stream's key instead of the augmentation's parameters makes any draw reproducible from the seed, so a cache of a
/// teacher's outputs per (draw, image) can stand in for the teacher from epoch K on.
/// </summary>
public static class AugmentationDraws
{
    // Sits where the per-epoch stream has its epoch, which is never negative, so the two kinds of stream never meet.
    private const long StreamTag = -0x4B44_5241_5753L;

    /// <summary>The draw epoch <paramref name="epoch"/> uses, of <paramref name="draws"/>.</summary>
    public static int Of(int epoch, int draws)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(draws, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return epoch % draws;
    }

    /// <summary>The random stream of draw <paramref name="draw"/> of image <paramref name="index"/>.</summary>
    public static DeterministicRandom Stream(long seed, int draw, int index) => DeterministicRandom.ForStream(seed, StreamTag, draw, index);
}
