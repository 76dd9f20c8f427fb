using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Training.Distributed;

/// <summary>
/// The global batches of a W-rank run, on one process: step k yields rank 0's batch k, then rank 1's, and so on,
/// each read by that rank's own loader (its shard, its augmentation streams). With <see cref="ReplayedRanksMixer"/>
/// a single process then computes what the W ranks compute together, which is how a distributed run is checked
/// against one process, and how one can be continued on fewer processes.
/// </summary>
public sealed class ReplayedRanksSource : IBatchSource
{
    private readonly IReadOnlyList<IBatchSource> _ranks;

    /// <summary>Replays <paramref name="ranks"/> (source r is rank r's training source).</summary>
    public ReplayedRanksSource(IReadOnlyList<IBatchSource> ranks)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        if (ranks.Count == 0)
        {
            throw new ArgumentException("At least one rank's source is needed.", nameof(ranks));
        }
        if (ranks.Select(r => r.BatchesPerEpoch).Distinct().Count() != 1)
        {
            throw new ArgumentException($"The ranks' sources have different numbers of batches ({string.Join(", ", ranks.Select(r => r.BatchesPerEpoch))}).", nameof(ranks));
        }
        _ranks = ranks;
    }

    /// <inheritdoc />
    public int Count => _ranks.Sum(r => r.Count);

    /// <inheritdoc />
    public int BatchesPerEpoch => _ranks[0].BatchesPerEpoch;

    /// <inheritdoc />
    public int NumClasses => _ranks[0].NumClasses;

    /// <inheritdoc />
    public string Describe(int index) => _ranks[0].Describe(index);

    /// <inheritdoc />
    public IEnumerable<Batch> GetEpoch(int epoch, int startBatch = 0)
    {
        var enumerators = _ranks.Select(r => r.GetEpoch(epoch, startBatch).GetEnumerator()).ToList();
        try
        {
            while (true)
            {
                var parts = new List<Batch>(enumerators.Count);
                try
                {
                    foreach (var e in enumerators)
                    {
                        if (!e.MoveNext())
                        {
                            yield break;
                        }
                        parts.Add(e.Current);
                    }
                    Batch joined;
                    using (var scope = NewDisposeScope())
                    {
                        var images = cat(parts.Select(p => p.Images).ToArray(), 0).MoveToOuterDisposeScope();
                        var labels = cat(parts.Select(p => p.Labels).ToArray(), 0).MoveToOuterDisposeScope();
                        joined = new Batch(images, labels, [.. parts.SelectMany(p => p.Indices)]);
                    }
                    yield return joined;
                }
                finally
                {
                    foreach (var p in parts)
                    {
                        p.Dispose();
                    }
                }
            }
        }
        finally
        {
            foreach (var e in enumerators)
            {
                e.Dispose();
            }
        }
    }
}
