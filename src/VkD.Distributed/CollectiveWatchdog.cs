using System.Diagnostics;

namespace VkD.Distributed;

/// <summary>
/// Watches the collective in progress and calls back once when one has waited longer than the timeout. A blocked
/// MPI call cannot be cancelled from inside, and a peer that hangs (rather than dies) is invisible to mpirun, so a
/// thread of our own is the only way to end such a job.
/// </summary>
internal sealed class CollectiveWatchdog : IDisposable
{
    private readonly TimeSpan _timeout;
    private readonly Action<string, TimeSpan> _onTimeout;
    private readonly Thread? _thread;
    private readonly ManualResetEventSlim _stop = new();
    private long _startedAt;
    private string _call = "";

    public CollectiveWatchdog(TimeSpan timeout, Action<string, TimeSpan> onTimeout)
    {
        _timeout = timeout;
        _onTimeout = onTimeout;
        if (timeout == Timeout.InfiniteTimeSpan || timeout <= TimeSpan.Zero)
        {
            return;
        }
        _thread = new Thread(Watch) { IsBackground = true, Name = "vkd-mpi-watchdog" };
        _thread.Start();
    }

    /// <summary>Marks <paramref name="call"/> as in progress until the returned scope is disposed.</summary>
    public Scope Enter(string call)
    {
        _call = call;
        Volatile.Write(ref _startedAt, Stopwatch.GetTimestamp());
        return new Scope(this);
    }

    public void Dispose()
    {
        _stop.Set();
        _thread?.Join();
        _stop.Dispose();
    }

    private void Watch()
    {
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(_timeout.TotalMilliseconds / 10, 50, 1000));
        while (!_stop.Wait(poll))
        {
            var started = Volatile.Read(ref _startedAt);
            if (started != 0 && Stopwatch.GetElapsedTime(started) is var waited && waited > _timeout)
            {
                _onTimeout(_call, waited);
                return;
            }
        }
    }

    /// <summary>The span of one collective.</summary>
    public readonly struct Scope(CollectiveWatchdog owner) : IDisposable
    {
        /// <summary>Ends the span.</summary>
        public void Dispose() => Volatile.Write(ref owner._startedAt, 0);
    }
}
