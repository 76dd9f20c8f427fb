using VkD.Data;
using VkD.Data.Mixing;
using VkD.Training.Loop;
using VkD.Training.Options;
using static TorchSharp.torch;

namespace VkD.Training.Sessions;

/// <summary>The trainer's batch mixer on top of VkD.Data's timm-equivalent <see cref="MixupCutmix"/>, with one
/// random stream per step so a resumed run mixes exactly as an uninterrupted one. Each rank of a distributed run draws
/// its own stream (as the reference seeds each rank's mixup with seed + rank) and mixes only its own batch.</summary>
public sealed class MixupBatchMixer : IBatchMixer
{
    private readonly MixupCutmix _mixup;
    private readonly int _rank;

    /// <summary>Creates the mixer from the run's <c>--mixup/--cutmix/--mixup-prob/--mixup-switch-prob/--smoothing</c>
    /// for rank <paramref name="rank"/>.</summary>
    public MixupBatchMixer(TrainingOptions o, int numClasses, int rank = 0)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        _rank = rank;
        _mixup = new MixupCutmix(new MixupOptions
        {
            MixupAlpha = o.Mixup,
            CutmixAlpha = o.Cutmix,
            Probability = o.MixupProb,
            SwitchProbability = o.MixupSwitchProb,
            LabelSmoothing = o.Smoothing,
            NumClasses = numClasses,
        });
    }

    /// <inheritdoc />
    public (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor labels, long seed) =>
        _mixup.Apply(images, labels, _rank == 0 ? DeterministicRandom.ForStream(seed) : DeterministicRandom.ForStream(seed, _rank));
}
