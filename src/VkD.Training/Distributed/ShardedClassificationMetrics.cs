using VkD.Training.Loop;

namespace VkD.Training.Distributed;

/// <summary>
/// Combines the classification metrics each rank measured on its <see cref="StridedShard"/> of the evaluation set
/// into the metrics of the whole set. Top-1/top-5 are recovered as integer hit counts and summed exactly, then turned
/// into percentages by the same formula a single process uses, so they are bit-for-bit the single-process values;
/// the mean loss is the count-weighted mean (equal up to floating-point summation order).
/// </summary>
public static class ShardedClassificationMetrics
{
    /// <summary>The whole set's metrics from this rank's <paramref name="local"/> (every rank must call it).</summary>
    public static MetricSet Combine(MetricSet local, IGradientSync sync)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(sync);
        if (sync.WorldSize == 1)
        {
            return local;
        }
        var n = (long)local.Count;
        // acc = 100 c / n in double is within a few ulps of the integer c once multiplied back, so rounding is exact.
        Span<long> counts = [Hits(local["acc1"], n), Hits(local["acc5"], n), n];
        sync.AllReduceSum(counts);
        Span<double> loss = [n == 0 ? 0 : local["loss"] * n];
        sync.AllReduceSum(loss);
        var total = counts[2];
        if (total == 0)
        {
            throw new InvalidOperationException("The evaluation set is empty on every rank.");
        }
        var values = new Dictionary<string, double>(local.Values, StringComparer.Ordinal)
        {
            ["acc1"] = 100.0 * counts[0] / total,
            ["acc5"] = 100.0 * counts[1] / total,
            ["loss"] = loss[0] / total,
        };
        return new MetricSet(values, checked((int)total));
    }

    private static long Hits(double percent, long n) => n == 0 ? 0 : (long)Math.Round(percent * n / 100.0);
}
