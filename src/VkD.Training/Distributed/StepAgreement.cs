namespace VkD.Training.Distributed;

/// <summary>
/// What the ranks must decide together at a step, in one small allreduce per phase: the phase's loss terms and total
/// are averaged (so the logs describe the global batch, as a single process with the whole batch would log them),
/// the ranks whose loss was not finite are named (so every rank stops at the same step), and a stop request (a
/// signal that reached some ranks first) becomes everyone's at the same step.
/// </summary>
public sealed class StepAgreement
{
    private readonly IGradientSync _sync;
    private readonly double[] _buffer;
    private readonly int _terms;

    /// <summary>Creates the agreement for steps with at most <paramref name="termCount"/> terms.</summary>
    public StepAgreement(IGradientSync sync, int termCount)
    {
        ArgumentNullException.ThrowIfNull(sync);
        _sync = sync;
        _terms = termCount;
        _buffer = new double[termCount + 2 + sync.WorldSize];
    }

    /// <summary>Ranks whose loss was not finite at the last <see cref="Reduce"/>.</summary>
    public IReadOnlyList<int> NonFiniteRanks { get; private set; } = [];

    /// <summary>True when some rank asked to stop at the last <see cref="Reduce"/>.</summary>
    public bool Stop { get; private set; }

    /// <summary>Averages <paramref name="values"/> at <paramref name="indices"/> and <paramref name="total"/> over the
    /// ranks, in place, and records who saw a non-finite loss and whether anyone asked to stop.</summary>
    public void Reduce(double[] values, IReadOnlyList<int> indices, ref double total, bool locallyFinite, bool stopRequested)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(indices);
        if (_sync.WorldSize == 1)
        {
            NonFiniteRanks = locallyFinite ? [] : [0];
            Stop = stopRequested;
            return;
        }
        Array.Clear(_buffer);
        for (var k = 0; k < indices.Count; k++)
        {
            _buffer[k] = values[indices[k]];
        }
        _buffer[_terms] = total;
        _buffer[_terms + 1] = stopRequested ? 1 : 0;
        _buffer[_terms + 2 + _sync.Rank] = locallyFinite ? 0 : 1;
        _sync.AllReduceSum(_buffer);
        var w = (double)_sync.WorldSize;
        for (var k = 0; k < indices.Count; k++)
        {
            values[indices[k]] = _buffer[k] / w;
        }
        total = _buffer[_terms] / w;
        Stop = _buffer[_terms + 1] > 0;
        var bad = new List<int>();
        for (var r = 0; r < _sync.WorldSize; r++)
        {
            if (_buffer[_terms + 2 + r] != 0)
            {
                bad.Add(r);
            }
        }
        NonFiniteRanks = bad;
    }

    /// <summary>True on every rank when <paramref name="flag"/> is true on any.</summary>
    public static bool Any(IGradientSync sync, bool flag) => Count(sync, flag) > 0;

    /// <summary>The number of ranks on which <paramref name="flag"/> is true (every rank gets the same number).</summary>
    public static int Count(IGradientSync sync, bool flag)
    {
        ArgumentNullException.ThrowIfNull(sync);
        if (sync.WorldSize == 1)
        {
            return flag ? 1 : 0;
        }
        Span<long> v = [flag ? 1 : 0];
        sync.AllReduceSum(v);
        return (int)v[0];
    }
}
