using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace VkD.Distributed;

/// <summary>
/// <c>MPI_COMM_WORLD</c> of this process: initialisation, rank and size, in-place sums, broadcast, all-gather of bytes, barrier and abort,
/// over Open MPI's C API. A failed call throws <see cref="MpiException"/> naming the call and the rank (errors are set
/// to return rather than abort, so the message is ours). A process started without <c>mpirun</c> is a singleton job of
/// size 1. MPI lives as long as the process (it cannot be initialised twice), see <see cref="FinalizeAtExit"/>. A
/// collective that has not completed after <see cref="CollectiveTimeout"/> ends the process with a message
/// naming the call and the rank, so a job never hangs forever on a stuck or unreachable peer.
/// </summary>
public sealed unsafe class MpiCommunicator : IDisposable
{
    /// <summary>Exit code of a process ended by the collective timeout (as coreutils' <c>timeout</c>).</summary>
    public const int TimeoutExitCode = 124;

    private static readonly object Gate = new();
    private static MpiCommunicator? _world;

    private readonly OpenMpiLibrary _lib;
    private readonly CollectiveWatchdog _watchdog;
    private bool _finalized;

    private MpiCommunicator(OpenMpiLibrary lib, TimeSpan collectiveTimeout)
    {
        _lib = lib;
        int initialized;
        Check("MPI_Initialized", lib.Initialized(&initialized));
        if (initialized == 0)
        {
            int provided;
            Check("MPI_Init_thread", lib.InitThread(null, 0, OpenMpiLibrary.ThreadSerialized, &provided));
        }
        Check("MPI_Comm_set_errhandler", lib.CommSetErrhandler(lib.CommWorld, lib.ErrorsReturn));
        int rank, size;
        Check("MPI_Comm_rank", lib.CommRank(lib.CommWorld, &rank));
        Check("MPI_Comm_size", lib.CommSize(lib.CommWorld, &size));
        Rank = rank;
        Size = size;
        var name = stackalloc byte[256];
        var length = 0;
        ProcessorName = lib.ProcessorName(name, &length) == 0 ? Encoding.UTF8.GetString(name, length) : Environment.MachineName;
        CollectiveTimeout = collectiveTimeout;
        _watchdog = new CollectiveWatchdog(collectiveTimeout, OnTimeout);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (FinalizeAtExit)
            {
                Dispose();
            }
        };
    }

    /// <summary>Whether MPI is finalised when the process exits. Set it after work every rank finished alike; leave it
    /// false after a failure of this rank alone: MPI_Finalize waits for every rank, and a rank that leaves without it
    /// makes mpirun end the whole job, which is what a failure should do.</summary>
    public bool FinalizeAtExit { get; set; }

    /// <summary>This process's rank in <c>MPI_COMM_WORLD</c>.</summary>
    public int Rank { get; }

    /// <summary>Processes in <c>MPI_COMM_WORLD</c>.</summary>
    public int Size { get; }

    /// <summary>The host MPI reports for this process (<c>MPI_Get_processor_name</c>).</summary>
    public string ProcessorName { get; }

    /// <summary>How long one collective may wait before the process gives up (<see cref="Timeout.InfiniteTimeSpan"/>:
    /// never).</summary>
    public TimeSpan CollectiveTimeout { get; }

    /// <summary>The library file in use.</summary>
    public string LibraryPath => _lib.Path;

    /// <summary>"rank R of N on HOST", for messages.</summary>
    public string Describe() => $"rank {Rank} of {Size} on {ProcessorName}";

    /// <summary>Initialises MPI (once per process; later calls return the same communicator).</summary>
    /// <param name="collectiveTimeout">Timeout of each collective (null: 30 minutes, as torch.distributed's default).</param>
    /// <exception cref="MpiException">libmpi is missing or MPI_Init failed.</exception>
    public static MpiCommunicator World(TimeSpan? collectiveTimeout = null)
    {
        lock (Gate)
        {
            if (_world is { _finalized: true })
            {
                throw new MpiException("MPI_Init_thread", _world.Rank, 0, "MPI was already finalised in this process; it cannot be initialised twice.");
            }
            return _world ??= new MpiCommunicator(OpenMpiLibrary.Load(), collectiveTimeout ?? TimeSpan.FromMinutes(30));
        }
    }

    /// <summary>Sums <paramref name="values"/> over all processes, in place.</summary>
    public void AllReduceSum(Span<float> values)
    {
        fixed (float* p = values)
        {
            AllReduce(p, values.Length, _lib.Float, _lib.Sum, "MPI_Allreduce(float, sum)");
        }
    }

    /// <summary>Sums <paramref name="values"/> over all processes, in place.</summary>
    public void AllReduceSum(Span<double> values)
    {
        fixed (double* p = values)
        {
            AllReduce(p, values.Length, _lib.Double, _lib.Sum, "MPI_Allreduce(double, sum)");
        }
    }

    /// <summary>Sums <paramref name="values"/> over all processes, in place (exact).</summary>
    public void AllReduceSum(Span<long> values)
    {
        fixed (long* p = values)
        {
            AllReduce(p, values.Length, _lib.Int64, _lib.Sum, "MPI_Allreduce(int64, sum)");
        }
    }

    /// <summary>Element-wise maximum of <paramref name="values"/> over all processes, in place.</summary>
    public void AllReduceMax(Span<long> values)
    {
        fixed (long* p = values)
        {
            AllReduce(p, values.Length, _lib.Int64, _lib.Max, "MPI_Allreduce(int64, max)");
        }
    }

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into every other rank's buffer.</summary>
    public void Broadcast(Span<byte> data, int root = 0)
    {
        CheckRoot(root);
        fixed (byte* p = data)
        {
            for (long offset = 0; offset < data.Length; offset += int.MaxValue)
            {
                var n = (int)Math.Min(int.MaxValue, data.Length - offset);
                using (_watchdog.Enter("MPI_Bcast"))
                {
                    Check("MPI_Bcast", _lib.Bcast(p + offset, n, _lib.Byte, root, _lib.CommWorld));
                }
            }
        }
    }

    /// <summary>Every rank's <paramref name="mine"/>, indexed by rank, on every rank (MPI_Allgatherv of bytes; the
    /// lengths may differ and are exchanged first). For results gathered once per evaluation (predictions,
    /// detections), not for per-step traffic.</summary>
    /// <exception cref="NotSupportedException">The ranks' bytes together exceed 2 GB (one MPI message).</exception>
    public byte[][] AllGather(ReadOnlySpan<byte> mine)
    {
        var lengths = new long[Size];
        lengths[Rank] = mine.Length;
        AllReduceSum(lengths);
        var total = lengths.Sum();
        if (total > int.MaxValue)
        {
            throw new NotSupportedException($"{Describe()}: gathering {total} bytes exceeds one MPI message (2 GB).");
        }
        var counts = new int[Size];
        var offsets = new int[Size];
        for (var r = 0; r < Size; r++)
        {
            counts[r] = (int)lengths[r];
            offsets[r] = r == 0 ? 0 : offsets[r - 1] + counts[r - 1];
        }
        // One spare byte: a job where every rank sends nothing still passes a valid buffer.
        var all = new byte[total + 1];
        fixed (byte* send = mine)
        fixed (byte* receive = all)
        fixed (int* c = counts)
        fixed (int* o = offsets)
        {
            using (_watchdog.Enter("MPI_Allgatherv"))
            {
                Check("MPI_Allgatherv", _lib.Allgatherv(send, mine.Length, _lib.Byte, receive, c, o, _lib.Byte, _lib.CommWorld));
            }
        }
        var result = new byte[Size][];
        for (var r = 0; r < Size; r++)
        {
            result[r] = all.AsSpan(offsets[r], counts[r]).ToArray();
        }
        return result;
    }

    /// <summary>Returns when every process has called it.</summary>
    public void Barrier()
    {
        using (_watchdog.Enter("MPI_Barrier"))
        {
            Check("MPI_Barrier", _lib.Barrier(_lib.CommWorld));
        }
    }

    /// <summary>Ends every process of the job with <paramref name="exitCode"/> (MPI_Abort); does not return.</summary>
    public void Abort(int exitCode)
    {
        _lib.Abort(_lib.CommWorld, exitCode);
        // MPI_Abort should not return; if it does, the process still must not continue.
        Environment.Exit(exitCode);
    }

    /// <summary>Finalises MPI (every rank must call it, after its last collective).</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_finalized)
            {
                return;
            }
            _finalized = true;
            _watchdog.Dispose();
            int finalized;
            if (_lib.Finalized(&finalized) == 0 && finalized == 0)
            {
                Check("MPI_Finalize", _lib.FinalizeFn());
            }
        }
    }

    private void AllReduce(void* data, long count, nint type, nint op, string call)
    {
        var size = type == _lib.Double || type == _lib.Int64 ? 8 : 4;
        for (long offset = 0; offset < count; offset += int.MaxValue)
        {
            var n = (int)Math.Min(int.MaxValue, count - offset);
            using (_watchdog.Enter(call))
            {
                Check(call, _lib.Allreduce(OpenMpiLibrary.InPlace, (byte*)data + offset * size, n, type, op, _lib.CommWorld));
            }
        }
    }

    private void CheckRoot(int root)
    {
        if ((uint)root >= (uint)Size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), $"Root rank {root} is not in [0, {Size}).");
        }
    }

    private void Check(string call, int code)
    {
        if (code == 0)
        {
            return;
        }
        var text = stackalloc byte[512];
        var length = 0;
        var message = _lib.ErrorString(code, text, &length) == 0 ? Encoding.UTF8.GetString(text, Math.Min(length, 512)) : "unknown error";
        var where = Size > 0 ? Describe() : "this process";
        throw new MpiException(call, Size > 0 ? Rank : -1, code, $"{call} failed on {where}: {message} (MPI error {code}).");
    }

    private void OnTimeout(string call, TimeSpan waited)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"vkd: {Describe()}: {call} has not completed in {CollectiveTimeout.TotalSeconds:G} s " +
            $"(the collective timeout; waited {waited.TotalSeconds:F1} s); another rank is stuck, gone or unreachable. Ending the job.");
        try
        {
            Console.Error.WriteLine(line);
            Console.Error.Flush();
        }
        catch (IOException)
        {
            // Nowhere to report: still end the job.
        }
        _lib.Abort(_lib.CommWorld, TimeoutExitCode);
        ExitNow(TimeoutExitCode);
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void ExitNow(int status);
}
