namespace VkD.Training.Optim;

/// <summary>
/// The learning rate of every optimiser step of a run: timm's cosine (<see cref="CosineLrScheduler"/>) read per
/// iteration (the reference's DeiT recipe), or per epoch (timm's default, <c>t_in_epochs=True</c>), optionally lagging
/// by whole epochs. The lag is there because ViDT's <c>main.py</c> calls <c>lr_scheduler.step(epoch)</c> at the
/// <b>end</b> of epoch <c>e</c>, so epoch <c>e</c> trains at the rate of <c>e − 1</c>: epochs 0 and 1 both run at the
/// base rate and the last epoch never reaches the minimum. It is a pure function of the step, so resuming needs only
/// the step count.
/// </summary>
public sealed class LearningRateSchedule
{
    private readonly CosineLrScheduler _cosine;
    private readonly int _itersPerEpoch;

    /// <summary>Creates the schedule.</summary>
    /// <param name="cosine">The cosine, measured in iterations.</param>
    /// <param name="itersPerEpoch">Optimiser steps per epoch.</param>
    /// <param name="perEpoch">True to change the rate only at epoch boundaries.</param>
    /// <param name="lagEpochs">Epochs the per-epoch rate lags behind (0 for none); needs <paramref name="perEpoch"/>.</param>
    /// <exception cref="ArgumentException">A lag with a per-iteration schedule, a negative lag, or no iterations.</exception>
    public LearningRateSchedule(CosineLrScheduler cosine, int itersPerEpoch, bool perEpoch, int lagEpochs = 0)
    {
        ArgumentNullException.ThrowIfNull(cosine);
        ArgumentOutOfRangeException.ThrowIfLessThan(itersPerEpoch, 1);
        if (lagEpochs < 0)
        {
            throw new ArgumentException($"The schedule's lag must be 0 or more epochs, got {lagEpochs}.", nameof(lagEpochs));
        }
        if (lagEpochs > 0 && !perEpoch)
        {
            throw new ArgumentException("A lagged schedule changes the rate per epoch; use the epoch schedule unit with it.", nameof(lagEpochs));
        }
        _cosine = cosine;
        _itersPerEpoch = itersPerEpoch;
        PerEpoch = perEpoch;
        LagEpochs = lagEpochs;
    }

    /// <summary>True when the rate changes only at epoch boundaries.</summary>
    public bool PerEpoch { get; }

    /// <summary>Epochs the rate lags behind.</summary>
    public int LagEpochs { get; }

    /// <summary>The rate of the optimiser step of (0-based) global iteration <paramref name="step"/>.</summary>
    public double LearningRate(long step)
    {
        if (!PerEpoch)
        {
            return _cosine.LearningRate(step);
        }
        var epoch = Math.Max(step / _itersPerEpoch - LagEpochs, 0);
        return _cosine.LearningRate(epoch * _itersPerEpoch);
    }
}
