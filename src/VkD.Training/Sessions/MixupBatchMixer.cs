using VkD.Data;
using VkD.Data.Mixing;
using VkD.Training.Loop;
using VkD.Training.Options;
using static TorchSharp.torch;

namespace VkD.Training.Sessions;

/// <summary>The trainer's batch mixer on top of VkD.Data's timm-equivalent <see cref="MixupCutmix"/>, with one
/// random stream per step so a resumed run mixes exactly as an uninterrupted one.</summary>
public sealed class MixupBatchMixer : IBatchMixer
{
    private readonly MixupCutmix _mixup;

    /// <summary>Creates the mixer from the run's <c>--mixup/--cutmix/--mixup-prob/--mixup-switch-prob/--smoothing</c>.</summary>
    public MixupBatchMixer(TrainingOptions o, int numClasses)
    {
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
        _mixup.Apply(images, labels, DeterministicRandom.ForStream(seed));
}
