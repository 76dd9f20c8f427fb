using System.Runtime.InteropServices;

namespace VkD.Training.Native;

/// <summary>What <see cref="RetainingAllocator.Decide"/> chose for this process.</summary>
public enum AllocatorAction
{
    /// <summary>Run as is: the retaining allocator is already in place, was switched off, or is not installed.</summary>
    Continue,

    /// <summary>Replace this process (same PID) with itself under the retaining allocator: <see cref="AllocatorDecision.Environment"/> holds the changed variables.</summary>
    Reexec,

    /// <summary><c>VKD_ALLOCATOR=jemalloc</c> asked for it and it is not installed: stop with <see cref="AllocatorDecision.Message"/>.</summary>
    Fail,
}

/// <summary>The allocator decision for one process start.</summary>
/// <param name="Action">What to do.</param>
/// <param name="Environment">For <see cref="AllocatorAction.Reexec"/>: the variables to set (LD_PRELOAD, MALLOC_CONF); empty otherwise.</param>
/// <param name="Message">Why, in one line (for logs and errors).</param>
public sealed record AllocatorDecision(AllocatorAction Action, IReadOnlyDictionary<string, string> Environment, string Message);

/// <summary>
/// Runs the <c>vkd</c> process under jemalloc with page decay off, when the machine has it (Debian: <c>apt-get install
/// libjemalloc2</c>). Why: libtorch allocates each large activation with glibc's malloc, and a CPU step's activations
/// (45–51 MB for a RegNetY-160 teacher at batch 16) are above glibc's largest mmap threshold (32 MB), so every step maps
/// them, the kernel zero-fills every page on first touch, and free() unmaps them again. A retaining allocator keeps the
/// pages: measured on a <c>vkd distill</c> VkD step (docs/benchmarks.md, "Allocator") it cut minor page faults 12× and
/// system CPU time by 73 % at the same peak RSS, where glibc tuned to never unmap (<c>mmap_max=0</c>) grew the RSS by
/// 37 %. jemalloc must be in place before the first allocation, so the launcher replaces the process with itself
/// (<c>execve</c> of the same executable and arguments, same PID: signals, mpirun and exit codes are unaffected) with
/// <c>LD_PRELOAD</c> set; child processes inherit it. <c>VKD_ALLOCATOR=system</c> switches it off,
/// <c>VKD_ALLOCATOR=jemalloc</c> makes a missing jemalloc an error; a user's own <c>MALLOC_CONF</c> is kept.
/// Results do not depend on the allocator (it moves no numbers, only where the buffers live).
/// </summary>
public static class RetainingAllocator
{
    /// <summary>The environment variable that chooses: <c>auto</c> (default), <c>system</c> or <c>jemalloc</c>.</summary>
    public const string ChoiceVariable = "VKD_ALLOCATOR";

    /// <summary>jemalloc's settings when the user gave none: never return dirty or muzzy pages to the kernel (the
    /// step reuses them milliseconds later); jemalloc's default 10 s decay faulted more than glibc.</summary>
    public const string DefaultConfig = "dirty_decay_ms:-1,muzzy_decay_ms:-1";

    /// <summary>Where Debian, Fedora and source installs put libjemalloc.so.2, in search order.</summary>
    public static readonly IReadOnlyList<string> SearchPaths =
    [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
        "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2",
        "/usr/lib/libjemalloc.so.2",
        "/usr/local/lib/libjemalloc.so.2",
    ];

    /// <summary>Decides from an environment and a file probe alone (no side effects), so every case is testable.</summary>
    /// <param name="environment">The process environment (variable → value).</param>
    /// <param name="fileExists">Probe for <see cref="SearchPaths"/>.</param>
    /// <param name="isLinux">False on other systems, where LD_PRELOAD does not apply.</param>
    public static AllocatorDecision Decide(IReadOnlyDictionary<string, string> environment, Func<string, bool> fileExists, bool isLinux)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(fileExists);
        var choice = environment.TryGetValue(ChoiceVariable, out var c) && !string.IsNullOrWhiteSpace(c) ? c.Trim().ToLowerInvariant() : "auto";
        if (choice is not ("auto" or "system" or "jemalloc"))
        {
            return new(AllocatorAction.Fail, Empty, $"{ChoiceVariable}='{c}' is not one of auto, system, jemalloc.");
        }
        if (choice == "system")
        {
            return new(AllocatorAction.Continue, Empty, $"glibc malloc ({ChoiceVariable}=system)");
        }
        var preload = environment.TryGetValue("LD_PRELOAD", out var p) ? p : "";
        if (preload.Contains("libjemalloc", StringComparison.Ordinal))
        {
            // Already in place (this is the re-executed process, or the user preloaded it): never loop.
            return new(AllocatorAction.Continue, Empty, "jemalloc (preloaded)");
        }
        var library = isLinux ? SearchPaths.FirstOrDefault(fileExists) : null;
        if (library is null)
        {
            return choice == "jemalloc"
                ? new(AllocatorAction.Fail, Empty, $"{ChoiceVariable}=jemalloc, but libjemalloc.so.2 is in none of {string.Join(", ", SearchPaths)} (Debian: apt-get install libjemalloc2).")
                : new(AllocatorAction.Continue, Empty, "glibc malloc (libjemalloc.so.2 not installed)");
        }
        var changes = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = string.IsNullOrEmpty(preload) ? library : $"{library}:{preload}",
        };
        if (!environment.ContainsKey("MALLOC_CONF"))
        {
            changes["MALLOC_CONF"] = DefaultConfig;
        }
        return new(AllocatorAction.Reexec, changes, $"jemalloc ({library})");
    }

    /// <summary>
    /// Call first thing in an executable's Main: when <see cref="Decide"/> says so, replaces the process with itself
    /// under jemalloc and does not return. Returns null to go on (also when the executable is the shared
    /// <c>dotnet</c> host, which cannot be re-executed with the same meaning, or when <c>execve</c> fails), or the
    /// error of <see cref="AllocatorAction.Fail"/>.
    /// </summary>
    /// <param name="args">The program's arguments (without the executable).</param>
    public static string? ReexecIfNeeded(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var environment = System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        var decision = Decide(environment, File.Exists, OperatingSystem.IsLinux());
        if (decision.Action == AllocatorAction.Fail)
        {
            return decision.Message;
        }
        var exe = System.Environment.ProcessPath;
        if (decision.Action != AllocatorAction.Reexec || exe is null
            || Path.GetFileNameWithoutExtension(exe).Equals("dotnet", StringComparison.Ordinal))
        {
            return null;
        }
        foreach (var (k, v) in decision.Environment)
        {
            environment[k] = v;
        }
        string?[] argv = [exe, .. args, null];
        string?[] envp = [.. environment.Select(kv => $"{kv.Key}={kv.Value}"), null];
        Execve(exe, argv, envp); // returns only on failure; then run on glibc, which is correct, only slower
        return null;
    }

    /// <summary>The allocator this process runs on, read from its own memory map: "jemalloc" or "glibc malloc".</summary>
    public static string Active()
    {
        try
        {
            return File.Exists("/proc/self/maps") && File.ReadLines("/proc/self/maps").Any(l => l.Contains("libjemalloc", StringComparison.Ordinal))
                ? "jemalloc" : "glibc malloc";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    // LPStr is UTF-8 on Linux; string[] arrays accept no other subtype.
    [DllImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static extern int Execve(
        [MarshalAs(UnmanagedType.LPUTF8Str)] string path,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] argv,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] envp);
}
