using System.Globalization;
using System.Text;

namespace VkD.Distributed;

/// <summary>
/// The <c>mpirun</c> invocation of a data-parallel job, so that a user need not learn Open MPI's options: processes
/// per node and nodes (with a hostfile), <c>--allow-run-as-root</c> when root, <c>--oversubscribe</c> (a CPU job may
/// run more ranks than slots), no core binding (ranks run their own thread pools), the ranks' environment
/// (<c>TERM=dumb</c> keeps .NET's terminal escape codes out of the collected output, the thread counts), the TCP
/// interface, and extra MCA parameters.
/// </summary>
public sealed record MpirunCommandLine
{
    /// <summary>Ranks on each node.</summary>
    public int ProcessesPerNode { get; init; } = 1;

    /// <summary>Nodes; more than one needs <see cref="Hostfile"/>.</summary>
    public int Nodes { get; init; } = 1;

    /// <summary>Open MPI hostfile (<c>host slots=N</c> lines), or null for this machine only.</summary>
    public string? Hostfile { get; init; }

    /// <summary>Running as root: Open MPI refuses unless told (<c>--allow-run-as-root</c>).</summary>
    public bool AsRoot { get; init; }

    /// <summary>Network interface (or CIDR) for MPI traffic and Open MPI's own control channel, or null for all.</summary>
    public string? NetworkInterface { get; init; }

    /// <summary>Extra MCA parameters (<c>--mca KEY VALUE</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Mca { get; init; } = [];

    /// <summary>Variables set in every rank's environment (<c>-x NAME=VALUE</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary>Variables exported with the launcher's own value (<c>-x NAME</c>), e.g. PATH for remote nodes.</summary>
    public IReadOnlyList<string> Exported { get; init; } = [];

    /// <summary>The program every rank runs and its arguments.</summary>
    public required IReadOnlyList<string> Program { get; init; }

    /// <summary>Total ranks.</summary>
    public int Ranks => ProcessesPerNode * Nodes;

    /// <summary>The arguments after <c>mpirun</c>.</summary>
    /// <exception cref="ArgumentException">Inconsistent settings (the message names the option).</exception>
    public IReadOnlyList<string> Arguments()
    {
        if (ProcessesPerNode < 1 || Nodes < 1)
        {
            throw new ArgumentException($"--nproc_per_node and --nnodes must be at least 1 (got {ProcessesPerNode} and {Nodes}).");
        }
        if (Nodes > 1 && string.IsNullOrEmpty(Hostfile))
        {
            throw new ArgumentException($"--nnodes {Nodes} needs --hostfile: mpirun starts the ranks of every node from this one (over ssh), so it must know the hosts.");
        }
        if (Program.Count == 0)
        {
            throw new ArgumentException("Nothing to launch: give the command after the launcher's options, e.g. vkd launch --nproc_per_node 2 -- distill ...");
        }
        var a = new List<string>();
        if (AsRoot)
        {
            a.Add("--allow-run-as-root");
        }
        a.AddRange(["--oversubscribe", "-np", Ranks.ToString(CultureInfo.InvariantCulture)]);
        if (!string.IsNullOrEmpty(Hostfile))
        {
            a.AddRange(["--hostfile", Hostfile, "--map-by", $"ppr:{ProcessesPerNode.ToString(CultureInfo.InvariantCulture)}:node"]);
        }
        a.AddRange(["--bind-to", "none"]);
        if (!string.IsNullOrEmpty(NetworkInterface))
        {
            a.AddRange(["--mca", "btl_tcp_if_include", NetworkInterface, "--mca", "oob_tcp_if_include", NetworkInterface]);
        }
        foreach (var (key, value) in Mca)
        {
            a.AddRange(["--mca", key, value]);
        }
        foreach (var (name, value) in Environment)
        {
            a.AddRange(["-x", $"{name}={value}"]);
        }
        foreach (var name in Exported)
        {
            a.AddRange(["-x", name]);
        }
        a.AddRange(Program);
        return a;
    }

    /// <summary>The command as a shell line (for <c>--dry-run</c> and logs).</summary>
    public static string ShellLine(string program, IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var sb = new StringBuilder(Quote(program));
        foreach (var a in arguments)
        {
            sb.Append(' ').Append(Quote(a));
        }
        return sb.ToString();
    }

    private static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c)) ? s : "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
