using TorchSharp.Modules;
using VkD.Training.Optim;

namespace VkD.Detection.Training;

/// <summary>
/// ViDT's learning rate per epoch (<c>--sched warmupcos</c> with <c>--warmup-epochs 0</c>: YOLOS/timm
/// <c>CosineLRScheduler(t_initial=epochs, lr_min=--min-lr, t_in_epochs=True, cycle_limit=1)</c>), with the one-epoch lag
/// of ViDT's <c>main.py</c>: the scheduler starts at the base rate and <c>lr_scheduler.step(epoch)</c> runs at the
/// <b>end</b> of epoch <c>e</c>, setting <c>lr(e)</c> for epoch <c>e + 1</c>. So epoch <c>e</c> trains at
/// <c>lr(max(e − 1, 0))</c>, with <c>lr(t) = lr_min + ½(lr_max − lr_min)(1 + cos(π t / epochs))</c>: epochs 0 and 1 both
/// run at <c>--lr</c>, and the last epoch at <c>lr(epochs − 2)</c>, never at <c>lr_min</c>.
/// </summary>
public sealed class VidtLearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="lr">ViDT's <c>--lr</c> (1e-4).</param>
    /// <param name="minLr">ViDT's <c>--min-lr</c> (1e-7).</param>
    /// <param name="epochs">ViDT's <c>--epochs</c> (the cosine's <c>t_initial</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException">No epochs, or a rate that is negative or not finite.</exception>
    public VidtLearningRateSchedule(double lr, double minLr, int epochs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        if (!(lr >= 0) || double.IsInfinity(lr) || !(minLr >= 0) || double.IsInfinity(minLr))
        {
            throw new ArgumentOutOfRangeException(nameof(lr), $"--lr and --min-lr must be finite and >= 0, got {lr} and {minLr}.");
        }
        Lr = lr;
        MinLr = minLr;
        Epochs = epochs;
    }

    /// <summary>Base rate.</summary>
    public double Lr { get; }

    /// <summary>Rate the cosine approaches.</summary>
    public double MinLr { get; }

    /// <summary>Cosine length in epochs.</summary>
    public int Epochs { get; }

    /// <summary>The cosine's value at epoch <paramref name="t"/>, what <c>lr_scheduler.step(t)</c> sets (<c>lr_min</c>
    /// from <c>t = epochs</c> on, as timm's cycle limit gives).</summary>
    public double Cosine(int t) => t >= Epochs ? MinLr : MinLr + (0.5 * (Lr - MinLr) * (1 + Math.Cos(Math.PI * t / Epochs)));

    /// <summary>The rate epoch <paramref name="epoch"/> (0-based) trains at: <c>Cosine(max(epoch − 1, 0))</c>.</summary>
    public double LearningRate(int epoch) => Cosine(Math.Max(epoch - 1, 0));
}

/// <summary>
/// An optimiser whose steps run at <see cref="VidtLearningRateSchedule.LearningRate"/> of the epoch the task sets
/// (<see cref="Epoch"/>) instead of the rate the training loop assigns, because the loop's per-epoch schedule has no
/// one-epoch lag. The loop's assignment is kept in <see cref="LoopLearningRate"/> (the <c>lr</c> column of its logs);
/// <see cref="LearningRate"/> reads the rate applied, which is also what the state dict records.
/// </summary>
public sealed class EpochLaggedOptimizer : ITrainingOptimizer
{
    private readonly ITrainingOptimizer _inner;

    /// <summary>Wraps <paramref name="inner"/> (which the wrapper owns) with <paramref name="schedule"/>.</summary>
    public EpochLaggedOptimizer(ITrainingOptimizer inner, VidtLearningRateSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(schedule);
        _inner = inner;
        Schedule = schedule;
        _inner.LearningRate = schedule.LearningRate(0);
    }

    /// <summary>The wrapped optimiser.</summary>
    public ITrainingOptimizer Inner => _inner;

    /// <summary>The schedule applied.</summary>
    public VidtLearningRateSchedule Schedule { get; }

    /// <summary>The epoch of the next step (0-based); the task sets it from the step's context.</summary>
    public int Epoch { get; set; }

    /// <summary>The rate the loop assigned last (its un-lagged schedule; not applied).</summary>
    public double LoopLearningRate { get; private set; }

    /// <inheritdoc />
    public IReadOnlyList<Parameter> Parameters => _inner.Parameters;

    /// <inheritdoc />
    /// <remarks>Reads the rate of the next step; a value assigned is recorded in <see cref="LoopLearningRate"/> only.</remarks>
    public double LearningRate
    {
        get => _inner.LearningRate;
        set => LoopLearningRate = value;
    }

    /// <inheritdoc />
    public void ZeroGrad() => _inner.ZeroGrad();

    /// <inheritdoc />
    public void Step()
    {
        _inner.LearningRate = Schedule.LearningRate(Epoch);
        _inner.Step();
    }

    /// <inheritdoc />
    public Dictionary<string, object?> StateDict() => _inner.StateDict();

    /// <inheritdoc />
    public void LoadStateDict(IReadOnlyDictionary<string, object?> dict) => _inner.LoadStateDict(dict);

    /// <inheritdoc />
    public void Dispose() => _inner.Dispose();
}
