using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Training.Distributed;

/// <summary>Mixup/CutMix of a replayed global batch: each rank's slice is mixed by that rank's mixer, as each rank
/// mixes only its own batch in a distributed run.</summary>
public sealed class ReplayedRanksMixer : IBatchMixer
{
    private readonly IReadOnlyList<IBatchMixer> _ranks;

    /// <summary>Mixer r mixes slice r (of equal size) of each batch.</summary>
    public ReplayedRanksMixer(IReadOnlyList<IBatchMixer> ranks)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        _ranks = ranks.Count > 0 ? ranks : throw new ArgumentException("At least one rank's mixer is needed.", nameof(ranks));
    }

    /// <inheritdoc />
    public (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor labels, long seed)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        var n = images.shape[0];
        if (n % _ranks.Count != 0)
        {
            throw new ArgumentException($"A replayed batch of {n} images does not split into {_ranks.Count} equal rank batches.");
        }
        var size = n / _ranks.Count;
        using var scope = NewDisposeScope();
        var mixed = new Tensor[_ranks.Count];
        var targets = new Tensor[_ranks.Count];
        for (var r = 0; r < _ranks.Count; r++)
        {
            (mixed[r], targets[r]) = _ranks[r].Apply(images.narrow(0, r * size, size), labels.narrow(0, r * size, size), seed);
        }
        return (cat(mixed, 0).MoveToOuterDisposeScope(), cat(targets, 0).MoveToOuterDisposeScope());
    }
}
