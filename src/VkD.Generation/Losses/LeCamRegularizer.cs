using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Generation.Losses;

/// <summary>
/// LeCam regularisation of D (Tseng et al. 2021, google/lecam-gan): <c>mean(relu(D(real) − ema_fake)²) +
/// mean(relu(ema_real − D(fake))²)</c>, with the EMAs of D's mean outputs on real and fake images (decay 0.9; copied
/// rather than averaged before <see cref="StartIteration"/>) updated with the batch's means before the penalty is
/// taken, and the penalty applied only after <see cref="StartIteration"/>, as the reference's <c>ema_losses</c> and
/// <c>train_fns</c> do. The EMAs are float64 buffers <c>ema_real</c> / <c>ema_fake</c>, so checkpoints carry them and
/// a resumed run continues exactly.
/// </summary>
public sealed class LeCamRegularizer : nn.Module
{
    /// <summary>Components are registered explicitly.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the regulariser.</summary>
    /// <param name="weight">Weight of the penalty in D's loss (0.3 in the reference's <c>--LC 0.3</c>).</param>
    /// <param name="decay">EMA decay (0.9).</param>
    /// <param name="startIteration">Iteration from which the EMAs average and after which the penalty applies (1000).</param>
    /// <param name="initialValue">The EMAs before the first update (1000, never used once updated).</param>
    public LeCamRegularizer(double weight = 0.3, double decay = 0.9, long startIteration = 1000, double initialValue = 1000.0)
        : base(nameof(LeCamRegularizer))
    {
        if (!(weight >= 0) || !(decay is >= 0 and < 1) || startIteration < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), $"LeCam: weight ({weight}) must be >= 0, decay ({decay}) in [0, 1), start ({startIteration}) >= 0.");
        }
        Weight = weight;
        Decay = decay;
        StartIteration = startIteration;
        register_buffer("ema_real", tensor(initialValue, ScalarType.Float64));
        register_buffer("ema_fake", tensor(initialValue, ScalarType.Float64));
    }

    /// <summary>Weight of the penalty.</summary>
    public double Weight { get; }

    /// <summary>EMA decay from <see cref="StartIteration"/> on.</summary>
    public double Decay { get; }

    /// <summary>First iteration (1-based, BigGAN's <c>itr</c>) at which the EMAs average.</summary>
    public long StartIteration { get; }

    /// <summary>EMA of D's mean output on real images.</summary>
    public double EmaReal => get_buffer("ema_real")!.item<double>();

    /// <summary>EMA of D's mean output on fake images.</summary>
    public double EmaFake => get_buffer("ema_fake")!.item<double>();

    /// <summary>True when the penalty applies at iteration <paramref name="iteration"/> (after the start).</summary>
    public bool IsActive(long iteration) => Weight > 0 && iteration > StartIteration;

    /// <summary>Folds the batch means of D's outputs into the EMAs (decay 0 before the start iteration).</summary>
    public void Update(Tensor realScores, Tensor fakeScores, long iteration)
    {
        ArgumentNullException.ThrowIfNull(realScores);
        ArgumentNullException.ThrowIfNull(fakeScores);
        using var _ = no_grad();
        using var real = realScores.mean().to_type(ScalarType.Float64);
        using var fake = fakeScores.mean().to_type(ScalarType.Float64);
        Update(real.item<double>(), fake.item<double>(), iteration);
    }

    /// <summary>Folds the given means into the EMAs.</summary>
    public void Update(double realMean, double fakeMean, long iteration)
    {
        var decay = iteration < StartIteration ? 0.0 : Decay;
        using var _ = no_grad();
        var emaReal = get_buffer("ema_real")!;
        var emaFake = get_buffer("ema_fake")!;
        // Python-float arithmetic, as the reference keeps the EMAs as floats.
        emaReal.fill_(emaReal.item<double>() * decay + realMean * (1 - decay));
        emaFake.fill_(emaFake.item<double>() * decay + fakeMean * (1 - decay));
    }

    /// <summary>The unweighted penalty for D's outputs on real and fake images, with the current EMAs.</summary>
    public Tensor Penalty(Tensor realScores, Tensor fakeScores)
    {
        ArgumentNullException.ThrowIfNull(realScores);
        ArgumentNullException.ThrowIfNull(fakeScores);
        using var scope = NewDisposeScope();
        var real = nn.functional.relu(realScores - EmaFake).pow(2).mean();
        var fake = nn.functional.relu(EmaReal - fakeScores).pow(2).mean();
        return (real + fake).MoveToOuterDisposeScope();
    }
}
