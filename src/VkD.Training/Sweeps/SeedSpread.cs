namespace VkD.Training.Sweeps;

/// <summary>Mean and sample standard deviation (n − 1 in the denominator, as numpy's <c>std(ddof=1)</c>) of one metric
/// over a sweep's seeds.</summary>
/// <param name="Mean">Arithmetic mean.</param>
/// <param name="Std">Sample standard deviation; null for a single seed, where it is undefined.</param>
/// <param name="Values">The per-seed values, in seed order.</param>
public sealed record SeedSpread(double Mean, double? Std, IReadOnlyList<double> Values)
{
    /// <summary>The spread of <paramref name="values"/>.</summary>
    /// <exception cref="ArgumentException">No values.</exception>
    public static SeedSpread Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            throw new ArgumentException("A spread needs at least one value.", nameof(values));
        }
        var mean = values.Average();
        double? std = values.Count < 2 ? null : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return new SeedSpread(mean, std, values.ToArray());
    }
}
