namespace VkD.Training.Optim;

/// <summary>
/// The reference's EMA momentum schedule (<c>train.py</c>): <c>m_i = m0 + i (1 − m0) / (ipe · epochs)</c>, one value
/// per iteration, rising linearly from <c>m0</c> (0.996 in the reference) to 1.0 at the end of training.
/// A pure function of the iteration, so a resumed run continues it exactly.
/// </summary>
/// <param name="Start">Momentum at iteration 0.</param>
/// <param name="TotalIterations">Iterations of the whole run (<c>ipe · epochs</c>).</param>
public sealed record EmaMomentumSchedule(double Start, long TotalIterations) : IEmaSchedule
{
    /// <summary>Momentum applied after the optimiser step of global iteration <paramref name="t"/>.</summary>
    public double Momentum(long t) => TotalIterations <= 0 ? 1.0 : Math.Min(1.0, Start + t * (1.0 - Start) / TotalIterations);
}
