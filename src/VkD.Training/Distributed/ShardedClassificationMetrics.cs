using System.Text;
using VkD.Training.Evaluation;
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

    /// <summary>
    /// The whole set's batches and per-image rows, in the single process's order, on every rank (every rank must
    /// call it). Each rank passes the batches it evaluated on its <paramref name="shard"/> and, optionally, one row
    /// per image in shard order. Rows are put back block by block (global block k is rank k mod W's block k / W);
    /// batches round-robin, which is the single process's batch order when the shard's blocks are whole evaluation
    /// batches, so <see cref="EvalBatch.Total"/> of the result is bit-for-bit the single process's metrics.
    /// </summary>
    /// <exception cref="InvalidOperationException">A rank's rows do not match its image count.</exception>
    public static (List<EvalBatch> Batches, List<string>? Rows) Gather(IReadOnlyList<EvalBatch> batches, IReadOnlyList<string>? rows,
        StridedShard? shard, IGradientSync sync)
    {
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(sync);
        if (sync.WorldSize == 1)
        {
            return ([.. batches], rows is null ? null : [.. rows]);
        }
        ArgumentNullException.ThrowIfNull(shard);
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(batches.Count);
            foreach (var b in batches)
            {
                w.Write(b.Correct1);
                w.Write(b.Correct5);
                w.Write(b.LossSum);
                w.Write(b.Count);
            }
            w.Write(rows?.Count ?? -1);
            foreach (var row in rows ?? [])
            {
                w.Write(row);
            }
        }
        var parts = sync.AllGather(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        var perRank = parts.Select(Read).ToArray();
        var all = new List<EvalBatch>();
        for (var j = 0; perRank.Any(p => j < p.Batches.Count); j++)
        {
            foreach (var p in perRank)
            {
                if (j < p.Batches.Count)
                {
                    all.Add(p.Batches[j]);
                }
            }
        }
        if (rows is null)
        {
            return (all, null);
        }
        var ordered = new List<string>(perRank.Sum(p => p.Rows?.Count ?? 0));
        var block = shard.BlockSize;
        for (var k = 0; ; k++)
        {
            var (r, start) = (k % sync.WorldSize, k / sync.WorldSize * block);
            var mine = perRank[r].Rows!;
            if (start >= mine.Count)
            {
                break;
            }
            ordered.AddRange(mine.Skip(start).Take(block));
        }
        return (all, ordered);
    }

    private static (List<EvalBatch> Batches, List<string>? Rows) Read(byte[] bytes, int rank)
    {
        using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        var batches = new List<EvalBatch>();
        for (var n = r.ReadInt32(); n > 0; n--)
        {
            batches.Add(new EvalBatch(r.ReadInt64(), r.ReadInt64(), r.ReadDouble(), r.ReadInt32()));
        }
        var count = r.ReadInt32();
        if (count < 0)
        {
            return (batches, null);
        }
        var rows = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            rows.Add(r.ReadString());
        }
        if (rows.Count != batches.Sum(b => b.Count))
        {
            throw new InvalidOperationException($"Rank {rank} sent {rows.Count} prediction rows for {batches.Sum(b => b.Count)} images.");
        }
        return (batches, rows);
    }

    private static long Hits(double percent, long n) => n == 0 ? 0 : (long)Math.Round(percent * n / 100.0);
}
