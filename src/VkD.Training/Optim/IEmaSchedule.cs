namespace VkD.Training.Optim;

/// <summary>
/// The momentum <c>m</c> of an EMA step <c>ema ← m·ema + (1 − m)·model</c> after each global step. A pure function of
/// the step, so a resumed run continues the average exactly. The loop's default is <see cref="EmaMomentumSchedule"/>
/// (the reference's linear rise); a task with its own rule (BigGAN's <see cref="ConstantEmaSchedule"/>) supplies it
/// through <see cref="Loop.ITrainingTask{TBatch}.EmaSchedule"/>.
/// </summary>
public interface IEmaSchedule
{
    /// <summary>Momentum applied after the optimiser steps of global step <paramref name="step"/> (0-based).</summary>
    double Momentum(long step);
}

/// <summary>
/// BigGAN's EMA of G (<c>utils.ema</c> with <c>--ema_decay 0.9999 --ema_start 1000</c>, as DiffAugment-BigGAN's and
/// KD-DLGAN's CIFAR scripts run it): a constant decay, except that before <paramref name="StartStep"/> the copy is
/// pegged to the model (decay 0). BigGAN passes its 0-based <c>state_dict['itr']</c> (incremented after the
/// iteration) and tests <c>if itr and itr &lt; start_itr</c>, so step 0 — a falsy <c>itr</c> — takes the constant
/// decay; this is reproduced (it only matters when <paramref name="StartStep"/> ≤ 1, since steps 1 … start − 1
/// overwrite the copy anyway).
/// </summary>
/// <param name="Decay">The constant decay (BigGAN's 0.9999).</param>
/// <param name="StartStep">First 0-based step that averages instead of copying (BigGAN's 1000).</param>
public sealed record ConstantEmaSchedule(double Decay, long StartStep) : IEmaSchedule
{
    /// <inheritdoc />
    public double Momentum(long step) => step != 0 && step < StartStep ? 0.0 : Decay;
}
