using System.Diagnostics;
using System.Globalization;

namespace VkD.Distributed;

/// <summary>One allreduce timing of <see cref="MpiSelfCheck"/>.</summary>
/// <param name="Bytes">Message size.</param>
/// <param name="Milliseconds">Best of the repetitions, wall time on rank 0.</param>
/// <param name="BusGigabytesPerSecond">Bus bandwidth, <c>2 (n - 1) / n × bytes / time</c> (NCCL-tests' convention:
/// comparable with a link's bandwidth whatever the number of ranks).</param>
public sealed record AllReduceTiming(long Bytes, double Milliseconds, double BusGigabytesPerSecond);

/// <summary>What <see cref="MpiSelfCheck.Run"/> found.</summary>
/// <param name="Ranks">Processes in the job.</param>
/// <param name="Hosts">Distinct hosts (by the sum of their ranks' host-name hashes, so only a count).</param>
/// <param name="Correct">Sums, broadcast and barrier gave the expected values on every rank.</param>
/// <param name="Timings">Allreduce timings, small to large.</param>
public sealed record MpiSelfCheckReport(int Ranks, int Hosts, bool Correct, IReadOnlyList<AllReduceTiming> Timings)
{
    /// <summary>The report as lines for the console.</summary>
    public IEnumerable<string> Describe()
    {
        yield return $"MPI check: {Ranks} rank(s) on {Hosts} host(s); sums, broadcast and barrier {(Correct ? "correct on every rank" : "WRONG on some rank")}.";
        foreach (var t in Timings)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"  allreduce {t.Bytes / 1048576.0,8:F3} MB: {t.Milliseconds,9:F3} ms, bus bandwidth {t.BusGigabytesPerSecond,7:F2} GB/s");
        }
    }
}

/// <summary>
/// A job's wiring and speed, checked before a long run: every rank contributes its rank to a sum, rank 0 broadcasts a
/// pattern, all meet at a barrier; then in-place fp32 allreduces of a few sizes (latency, 1 MB, one 25 MB gradient
/// bucket) are timed. Every rank must call it.
/// </summary>
public static class MpiSelfCheck
{
    /// <summary>Message sizes timed by default.</summary>
    public static IReadOnlyList<long> DefaultSizes { get; } = [4 << 10, 1 << 20, 25 << 20];

    /// <summary>Runs the check on <paramref name="comm"/>.</summary>
    public static MpiSelfCheckReport Run(MpiCommunicator comm, IReadOnlyList<long>? sizes = null, int repetitions = 5)
    {
        ArgumentNullException.ThrowIfNull(comm);
        sizes ??= DefaultSizes;
        var n = comm.Size;
        Span<long> sums = [comm.Rank, 1];
        var hostHashes = new long[n];
        hostHashes[comm.Rank] = StableHash(comm.ProcessorName);
        comm.AllReduceSum(sums);
        comm.AllReduceSum(hostHashes);
        var pattern = new byte[4096];
        if (comm.Rank == 0)
        {
            for (var i = 0; i < pattern.Length; i++)
            {
                pattern[i] = (byte)(i * 31 + 7);
            }
        }
        comm.Broadcast(pattern);
        var ok = sums[0] == (long)n * (n - 1) / 2 && sums[1] == n;
        for (var i = 0; i < pattern.Length; i++)
        {
            ok &= pattern[i] == (byte)(i * 31 + 7);
        }
        comm.Barrier();
        Span<long> verdict = [ok ? 0 : 1];
        comm.AllReduceSum(verdict);
        var timings = new List<AllReduceTiming>();
        foreach (var bytes in sizes)
        {
            var data = new float[Math.Max(1, bytes / sizeof(float))];
            Array.Fill(data, 1f);
            var best = double.MaxValue;
            for (var r = 0; r < repetitions; r++)
            {
                comm.Barrier();
                var watch = Stopwatch.StartNew();
                comm.AllReduceSum(data);
                best = Math.Min(best, watch.Elapsed.TotalMilliseconds);
            }
            var bus = n == 1 ? 0 : 2.0 * (n - 1) / n * data.Length * sizeof(float) / (best / 1000) / 1e9;
            timings.Add(new AllReduceTiming((long)data.Length * sizeof(float), best, bus));
        }
        return new MpiSelfCheckReport(n, hostHashes.Distinct().Count(), verdict[0] == 0, timings);
    }

    // FNV-1a: string.GetHashCode differs between processes.
    private static long StableHash(string s)
    {
        unchecked
        {
            var h = (long)0xcbf29ce484222325;
            foreach (var c in s)
            {
                h = (h ^ c) * 0x100000001b3;
            }
            return h & long.MaxValue;
        }
    }
}
