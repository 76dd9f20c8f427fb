namespace VkD.Training.Optim;

/// <summary>
/// timm's <c>CosineLRScheduler</c> with one cycle, stepped per iteration (<c>t_in_epochs=False</c>) as the reference
/// builds it: <c>t_initial = epochs * iters</c>, <c>warmup_t = warmup_epochs * iters</c>, linear warmup from
/// <c>warmup_lr_init</c> (not a prefix: the cosine is measured from t = 0), then
/// <c>lr_min + ½(lr_max − lr_min)(1 + cos(π t / t_initial))</c>, and <c>lr_min</c> after the cycle.
/// It is a pure function of the iteration, so resuming needs only the iteration count.
/// </summary>
public sealed class CosineLrScheduler
{
    private readonly double _warmupStep;

    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLr">Peak learning rate (timm's <c>base_values</c>).</param>
    /// <param name="tInitial">Length of the cosine cycle in iterations.</param>
    /// <param name="lrMin">Learning rate at and after the end of the cycle.</param>
    /// <param name="warmupT">Warmup length in iterations (0 for none).</param>
    /// <param name="warmupLrInit">Learning rate at iteration 0 of the warmup.</param>
    public CosineLrScheduler(double baseLr, long tInitial, double lrMin, long warmupT = 0, double warmupLrInit = 0)
    {
        if (tInitial <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tInitial), tInitial, "The cosine cycle needs at least one iteration.");
        }
        if (warmupT < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(warmupT), warmupT, "Warmup cannot be negative.");
        }
        BaseLr = baseLr;
        TInitial = tInitial;
        LrMin = lrMin;
        WarmupT = warmupT;
        WarmupLrInit = warmupLrInit;
        _warmupStep = warmupT > 0 ? (baseLr - warmupLrInit) / warmupT : 0;
    }

    /// <summary>Peak learning rate.</summary>
    public double BaseLr { get; }

    /// <summary>Cycle length in iterations.</summary>
    public long TInitial { get; }

    /// <summary>Minimum learning rate.</summary>
    public double LrMin { get; }

    /// <summary>Warmup length in iterations.</summary>
    public long WarmupT { get; }

    /// <summary>Warmup start learning rate.</summary>
    public double WarmupLrInit { get; }

    /// <summary>Builds the schedule from epoch-level settings as the reference's <c>build_scheduler</c> does
    /// (<c>int(epochs * ipe)</c>, <c>int(warmup_epochs * ipe)</c>).</summary>
    public static CosineLrScheduler FromEpochs(double lr, double minLr, int epochs, double warmupEpochs, double warmupLr, int itersPerEpoch)
        => new(lr, Math.Max(1, (long)(epochs * (double)itersPerEpoch)), minLr, (long)(warmupEpochs * itersPerEpoch), warmupLr);

    /// <summary>Learning rate used for the optimiser step of (0-based) global iteration <paramref name="t"/>.</summary>
    public double LearningRate(long t)
    {
        if (t < WarmupT)
        {
            return WarmupLrInit + t * _warmupStep;
        }
        var cycle = t / TInitial;
        if (cycle >= 1)
        {
            return LrMin;
        }
        var tCurr = t - TInitial * cycle;
        return LrMin + 0.5 * (BaseLr - LrMin) * (1 + Math.Cos(Math.PI * tCurr / TInitial));
    }
}
