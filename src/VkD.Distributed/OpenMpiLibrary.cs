using System.Runtime.InteropServices;

namespace VkD.Distributed;

/// <summary>
/// Open MPI's C entry points and predefined handles, resolved from <c>libmpi.so.40</c> at run time. Open MPI's
/// handles are pointers: <c>MPI_COMM_WORLD</c> is the address of the exported global <c>ompi_mpi_comm_world</c>,
/// <c>MPI_FLOAT</c> of <c>ompi_mpi_float</c>, and so on; <c>MPI_IN_PLACE</c> is <c>(void*)1</c>. (MPICH's handles are
/// integers, so it would need a second flavour of this class; nothing above it depends on which.)
/// </summary>
internal sealed unsafe class OpenMpiLibrary
{
    /// <summary>Environment variable naming the library file to load instead of the default search.</summary>
    public const string LibraryVariable = "VKD_MPI_LIBRARY";

    /// <summary>MPI_THREAD_SERIALIZED: calls may come from any thread, one at a time (the loop may run on a worker
    /// thread of the progress display).</summary>
    public const int ThreadSerialized = 2;

    /// <summary><c>MPI_IN_PLACE</c> in Open MPI.</summary>
    public static readonly nint InPlace = 1;

    private static readonly object Gate = new();
    private static OpenMpiLibrary? _loaded;

    private OpenMpiLibrary(nint handle, string path)
    {
        Path = path;
        nint Fn(string name) => NativeLibrary.GetExport(handle, name);
        nint Global(string name) => NativeLibrary.GetExport(handle, name);

        InitThread = (delegate* unmanaged<int*, nint, int, int*, int>)Fn("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Fn("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Fn("MPI_Finalized");
        FinalizeFn = (delegate* unmanaged<int>)Fn("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Fn("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Fn("MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Fn("MPI_Comm_set_errhandler");
        Allreduce = (delegate* unmanaged<nint, void*, int, nint, nint, nint, int>)Fn("MPI_Allreduce");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Fn("MPI_Bcast");
        Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Fn("MPI_Allgatherv");
        Barrier = (delegate* unmanaged<nint, int>)Fn("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Fn("MPI_Abort");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Fn("MPI_Error_string");
        ProcessorName = (delegate* unmanaged<byte*, int*, int>)Fn("MPI_Get_processor_name");
        CommWorld = Global("ompi_mpi_comm_world");
        Float = Global("ompi_mpi_float");
        Double = Global("ompi_mpi_double");
        Int64 = Global("ompi_mpi_int64_t");
        Byte = Global("ompi_mpi_byte");
        Sum = Global("ompi_mpi_op_sum");
        Max = Global("ompi_mpi_op_max");
        ErrorsReturn = Global("ompi_mpi_errors_return");
    }

    /// <summary>The file that was loaded.</summary>
    public string Path { get; }

#pragma warning disable CS1591 // The C API's own names; documented by the MPI standard.
    public delegate* unmanaged<int*, nint, int, int*, int> InitThread { get; }
    public delegate* unmanaged<int*, int> Initialized { get; }
    public delegate* unmanaged<int*, int> Finalized { get; }
    public delegate* unmanaged<int> FinalizeFn { get; }
    public delegate* unmanaged<nint, int*, int> CommRank { get; }
    public delegate* unmanaged<nint, int*, int> CommSize { get; }
    public delegate* unmanaged<nint, nint, int> CommSetErrhandler { get; }
    public delegate* unmanaged<nint, void*, int, nint, nint, nint, int> Allreduce { get; }
    public delegate* unmanaged<void*, int, nint, int, nint, int> Bcast { get; }
    public delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv { get; }
    public delegate* unmanaged<nint, int> Barrier { get; }
    public delegate* unmanaged<nint, int, int> Abort { get; }
    public delegate* unmanaged<int, byte*, int*, int> ErrorString { get; }
    public delegate* unmanaged<byte*, int*, int> ProcessorName { get; }
    public nint CommWorld { get; }
    public nint Float { get; }
    public nint Double { get; }
    public nint Int64 { get; }
    public nint Byte { get; }
    public nint Sum { get; }
    public nint Max { get; }
    public nint ErrorsReturn { get; }
#pragma warning restore CS1591

    /// <summary>Loads the library once per process.</summary>
    /// <exception cref="MpiException">No Open MPI library could be loaded, or it lacks an entry point.</exception>
    public static OpenMpiLibrary Load()
    {
        lock (Gate)
        {
            if (_loaded is not null)
            {
                return _loaded;
            }
            // A library named by the user is the only one tried: silently falling back to another would hide the mistake.
            var explicitPath = Environment.GetEnvironmentVariable(LibraryVariable);
            string[] candidates = string.IsNullOrEmpty(explicitPath)
                ? ["libmpi.so.40", "libmpi.so", "/usr/lib/x86_64-linux-gnu/libmpi.so.40", "/usr/lib64/openmpi/lib/libmpi.so.40"]
                : [explicitPath];
            var errors = new List<string>();
            foreach (var candidate in candidates)
            {
                // Open MPI loads its components (mca_*.so) with dlopen and they resolve libmpi's symbols globally, so the
                // library must be opened RTLD_GLOBAL, which NativeLibrary.Load does not do.
                var handle = OpenGlobal(candidate, out var error);
                if (handle == 0)
                {
                    errors.Add($"{candidate}: {error}");
                    continue;
                }
                try
                {
                    return _loaded = new OpenMpiLibrary(handle, candidate);
                }
                catch (EntryPointNotFoundException e)
                {
                    errors.Add($"{candidate}: not Open MPI ({e.Message})");
                }
            }
            throw new MpiException("load", -1, 0,
                "Open MPI's library (libmpi.so.40) could not be loaded, so this process cannot join the MPI job. Install Open MPI " +
                $"(Debian/Ubuntu: apt-get install openmpi-bin) or set {LibraryVariable} to the library's path. Tried: {string.Join("; ", errors)}.");
        }
    }

    private const int RtldNow = 2;
    private const int RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint DlOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern nint DlError();

    private static nint OpenGlobal(string file, out string error)
    {
        error = "";
        try
        {
            var handle = DlOpen(file, RtldNow | RtldGlobal);
            if (handle == 0)
            {
                // The runtime may clear dlerror's message before it is read, hence the fallbacks.
                error = Marshal.PtrToStringUTF8(DlError()) is { Length: > 0 } message ? message
                    : file.Contains('/', StringComparison.Ordinal) && !File.Exists(file) ? "no such file"
                    : "not found or not loadable";
            }
            return handle;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc dlopen (not glibc): fall back to the runtime's loader.
            if (NativeLibrary.TryLoad(file, out var handle))
            {
                return handle;
            }
            error = "not found";
            return 0;
        }
    }
}
