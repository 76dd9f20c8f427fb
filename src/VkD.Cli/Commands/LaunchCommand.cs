using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Distributed;
using VkD.Training.Distributed;

namespace VkD.Cli.Commands;

/// <summary>Flags of <c>vkd launch</c>: the reference launcher's (<c>torch.distributed.launch</c>) and ours.</summary>
public sealed class LaunchSettings : CommandSettings
{
    /// <summary>--nproc_per_node.</summary>
    [CommandOption("--nproc_per_node|--nproc-per-node <N>"), Description("Ranks (processes) per node (default 1).")]
    public int? ProcessesPerNode { get; set; }

    /// <summary>--nnodes.</summary>
    [CommandOption("--nnodes <M>"), Description("Nodes (default 1); more than one needs --hostfile.")]
    public int? Nodes { get; set; }

    /// <summary>--hostfile.</summary>
    [CommandOption("--hostfile <FILE>"), Description("Open MPI hostfile: one 'host slots=N' line per node, this node first.")]
    public string? Hostfile { get; set; }

    /// <summary>--node_rank (torch.distributed.launch; mpirun starts every node itself).</summary>
    [CommandOption("--node_rank|--node-rank <R>", IsHidden = true)]
    public int? NodeRank { get; set; }

    /// <summary>--master_addr (torch.distributed.launch; not needed by mpirun).</summary>
    [CommandOption("--master_addr|--master-addr <ADDR>", IsHidden = true)]
    public string? MasterAddress { get; set; }

    /// <summary>--master_port (torch.distributed.launch; not needed by mpirun).</summary>
    [CommandOption("--master_port|--master-port <PORT>", IsHidden = true)]
    public int? MasterPort { get; set; }

    /// <summary>--use_env (torch.distributed.launch; ranks always read their environment here).</summary>
    [CommandOption("--use_env|--use-env", IsHidden = true)]
    public bool? UseEnv { get; set; }

    /// <summary>--threads-per-rank.</summary>
    [CommandOption("--threads-per-rank <T>"), Description("Intra-op threads per rank (default: cores / ranks per node, at least 1).")]
    public int? ThreadsPerRank { get; set; }

    /// <summary>--scale-lr.</summary>
    [CommandOption("--scale-lr <RULE>"), Description("none (default, the reference: --lr as given) or linear (lr x ranks x batch / 512, DeiT's rule).")]
    public string? ScaleLr { get; set; }

    /// <summary>--iface.</summary>
    [CommandOption("--iface <NAME>"), Description("Network interface or CIDR for MPI traffic between nodes (e.g. eth0, 10.0.0.0/24).")]
    public string? Interface { get; set; }

    /// <summary>--mca.</summary>
    [CommandOption("--mca <KEY=VALUE>"), Description("Extra Open MPI MCA parameter, repeatable (e.g. btl=self,tcp).")]
    public string[]? Mca { get; set; }

    /// <summary>--timeout.</summary>
    [CommandOption("--timeout <SECONDS>"), Description("End the job when one collective waits longer than this (default 1800; 0 = never).")]
    public double? Timeout { get; set; }

    /// <summary>--check-sync.</summary>
    [CommandOption("--check-sync <N>"), Description("Debug: compare the replicas' weights bit for bit every N steps.")]
    public int? CheckSync { get; set; }

    /// <summary>--bucket-mb.</summary>
    [CommandOption("--bucket-mb <MB>"), Description("Gradient bucket size per allreduce (default 25).")]
    public double? BucketMb { get; set; }

    /// <summary>--mpirun.</summary>
    [CommandOption("--mpirun <PATH>"), Description("The mpirun to use (default: mpirun on PATH).")]
    public string? Mpirun { get; set; }

    /// <summary>--check-mpi.</summary>
    [CommandOption("--check-mpi"), Description("Instead of a command, check the job's wiring and time allreduces of 4 KB, 1 MB and 25 MB on every rank.")]
    public bool? CheckMpi { get; set; }

    /// <summary>--mpi-check-rank: what each rank of --check-mpi runs (alone, without mpirun: a one-rank job).</summary>
    [CommandOption("--mpi-check-rank", IsHidden = true)]
    public bool? MpiCheckRank { get; set; }

    /// <summary>--dry-run.</summary>
    [CommandOption("--dry-run"), Description("Print the mpirun command instead of running it.")]
    public bool? DryRun { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (ProcessesPerNode is < 1 || Nodes is < 1)
        {
            return ValidationResult.Error("--nproc_per_node and --nnodes must be at least 1.");
        }
        if (ThreadsPerRank is < 1)
        {
            return ValidationResult.Error("--threads-per-rank must be at least 1.");
        }
        if (ScaleLr is not null and not ("none" or "linear"))
        {
            return ValidationResult.Error($"--scale-lr {ScaleLr}: use none or linear.");
        }
        if (Timeout is < 0 || (Timeout is double t && !double.IsFinite(t)) || CheckSync is < 0 || BucketMb is <= 0)
        {
            return ValidationResult.Error("--timeout and --check-sync must be >= 0, --bucket-mb > 0.");
        }
        if (Mca?.FirstOrDefault(m => !m.Contains('=', StringComparison.Ordinal)) is string bad)
        {
            return ValidationResult.Error($"--mca {bad}: expected KEY=VALUE.");
        }
        return ValidationResult.Success();
    }
}

/// <summary>
/// <c>vkd launch</c>: runs a <c>vkd</c> command as a data-parallel job under Open MPI's <c>mpirun</c>, reading like the
/// reference's <c>python -m torch.distributed.launch --nproc_per_node=N main_distributed.py ...</c>. The command goes
/// after the launcher's flags (after <c>--</c>, or at the first word that is not a launcher flag);
/// <c>main_distributed.py</c> means <c>distill</c> (<c>eval</c> with <c>--eval-student</c>).
/// </summary>
public sealed class LaunchCommand : Command<LaunchSettings>
{
    // Launcher flags and whether they take a value: how InsertSeparator finds where the launched command starts.
    private static readonly Dictionary<string, bool> LauncherFlags = new(StringComparer.Ordinal)
    {
        ["--nproc_per_node"] = true,
        ["--nproc-per-node"] = true,
        ["--nnodes"] = true,
        ["--hostfile"] = true,
        ["--node_rank"] = true,
        ["--node-rank"] = true,
        ["--master_addr"] = true,
        ["--master-addr"] = true,
        ["--master_port"] = true,
        ["--master-port"] = true,
        ["--use_env"] = false,
        ["--use-env"] = false,
        ["--threads-per-rank"] = true,
        ["--scale-lr"] = true,
        ["--iface"] = true,
        ["--mca"] = true,
        ["--timeout"] = true,
        ["--check-sync"] = true,
        ["--bucket-mb"] = true,
        ["--mpirun"] = true,
        ["--dry-run"] = false,
        ["--check-mpi"] = false,
        ["--mpi-check-rank"] = false,
        ["-h"] = false,
        ["--help"] = false,
    };

    /// <summary>For <c>vkd launch ...</c> without <c>--</c>, inserts it before the first word that is not a launcher
    /// flag or a flag's value, so the launched command's own flags are not parsed as the launcher's.</summary>
    public static string[] InsertSeparator(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length < 2 || args[0] != "launch" || args.Contains("--"))
        {
            return args;
        }
        for (var i = 1; i < args.Length; i++)
        {
            var word = args[i];
            var name = word.Split('=', 2)[0];
            if (!LauncherFlags.TryGetValue(name, out var takesValue))
            {
                return [.. args[..i], "--", .. args[i..]];
            }
            if (takesValue && !word.Contains('=', StringComparison.Ordinal))
            {
                i++;
            }
        }
        return args;
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, LaunchSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.MpiCheckRank == true)
        {
            return CheckRank(settings.Timeout);
        }
        var command = settings.CheckMpi == true ? ["launch", "--mpi-check-rank"] : TranslateCommand([.. context.Remaining.Raw]);
        if (settings.NodeRank is > 0)
        {
            throw new ArgumentException("--node_rank: mpirun starts the ranks of every node from one place, so run vkd launch once, on the first node, with --hostfile listing all nodes.");
        }
        if (settings.MasterAddress is not null || settings.MasterPort is not null)
        {
            CliConsole.Warn("--master_addr/--master_port are not needed: mpirun wires the ranks itself (ignored).");
        }
        if (settings.Hostfile is not null && !File.Exists(settings.Hostfile))
        {
            throw new FileNotFoundException($"--hostfile '{settings.Hostfile}' does not exist.", settings.Hostfile);
        }
        var perNode = settings.ProcessesPerNode ?? 1;
        var nodes = settings.Nodes ?? 1;
        var threads = settings.ThreadsPerRank ?? Math.Max(1, Environment.ProcessorCount / perNode);
        var given = command.FindIndex(a => a == "--threads" || a.StartsWith("--threads=", StringComparison.Ordinal));
        if (given > 0)
        {
            // The command's own --threads wins; the ranks' OpenMP pools follow it.
            var value = command[given].Contains('=', StringComparison.Ordinal) ? command[given].Split('=', 2)[1] : command.ElementAtOrDefault(given + 1);
            threads = int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t > 0 ? t : threads;
        }
        else if (command[0] != "launch")
        {
            command.AddRange(["--threads", threads.ToString(CultureInfo.InvariantCulture)]);
        }
        var environment = new List<KeyValuePair<string, string>>
        {
            new("TERM", "dumb"),
            new("OMP_NUM_THREADS", threads.ToString(CultureInfo.InvariantCulture)),
            new("MKL_NUM_THREADS", threads.ToString(CultureInfo.InvariantCulture)),
        };
        void Set(string name, object? value)
        {
            if (value is not null)
            {
                environment.Add(new(name, Convert.ToString(value, CultureInfo.InvariantCulture)!));
            }
        }
        Set(DataParallel.ScaleLrVariable, settings.ScaleLr);
        Set(DataParallel.TimeoutVariable, settings.Timeout);
        Set(DataParallel.CheckEveryVariable, settings.CheckSync);
        Set(DataParallel.BucketVariable, settings.BucketMb);
        var line = new MpirunCommandLine
        {
            ProcessesPerNode = perNode,
            Nodes = nodes,
            Hostfile = settings.Hostfile,
            AsRoot = IsRoot(),
            NetworkInterface = settings.Interface,
            Mca = [.. (settings.Mca ?? []).Select(m => m.Split('=', 2)).Select(kv => new KeyValuePair<string, string>(kv[0], kv[1]))],
            Environment = environment,
            // Remote nodes start from a bare ssh environment: they need the launcher's paths to find dotnet and vkd.
            Exported = settings.Hostfile is null ? [] : [.. new[] { "PATH", "LD_LIBRARY_PATH", "DOTNET_ROOT" }.Where(v => Environment.GetEnvironmentVariable(v) is not null)],
            Program = [.. SelfCommand(), .. command],
        };
        var mpirun = settings.Mpirun ?? "mpirun";
        var arguments = line.Arguments();
        if (settings.DryRun == true)
        {
            CliConsole.Line(MpirunCommandLine.ShellLine(mpirun, arguments));
            return 0;
        }
        CliConsole.Line($"Launching {line.Ranks} rank(s) ({perNode} per node x {nodes} node(s)), {threads} thread(s) each, with {mpirun}.");
        return RunMpirun(mpirun, arguments);
    }

    /// <summary>The launched command in vkd's words: <c>main_distributed.py</c> (the reference's script, also behind
    /// <c>python</c> or <c>python -m</c>) is <c>distill</c>, or <c>eval</c> with <c>--eval-student</c>.</summary>
    public static List<string> TranslateCommand(IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        var rest = words.ToList();
        while (rest.Count > 0 && (Path.GetFileName(rest[0]).StartsWith("python", StringComparison.Ordinal) || rest[0] == "-u"))
        {
            rest.RemoveAt(0);
        }
        if (rest.Count == 0)
        {
            throw new ArgumentException("Nothing to launch: give the command after the launcher's flags, e.g. vkd launch --nproc_per_node 2 -- distill --data-path ...");
        }
        var script = Path.GetFileName(rest[0]);
        if (script == "main_distributed.py")
        {
            rest[0] = rest.Contains("--eval-student") ? "eval" : "distill";
        }
        else if (script == "main.py")
        {
            // ViDT's trainer: vkd detect train takes its flags (and distils with --distil_model, evaluates with --eval True).
            rest[0] = "train";
            rest.Insert(0, "detect");
        }
        else if (script == "vkd" || script == "vkd.dll")
        {
            rest.RemoveAt(0);
            return TranslateCommand(rest);
        }
        if (rest[0] == "detect" && rest.ElementAtOrDefault(1) is "train" or "distill" or "eval")
        {
            return rest;
        }
        if (rest[0] is not ("distill" or "train" or "eval"))
        {
            throw new ArgumentException($"vkd launch runs distill, train, eval or detect train|distill|eval (or the reference's main_distributed.py), not '{string.Join(' ', rest.Take(2))}'.");
        }
        return rest;
    }

    private static int CheckRank(double? timeoutSeconds)
    {
        using var comm = MpiCommunicator.World(timeoutSeconds is > 0 ? TimeSpan.FromSeconds(timeoutSeconds.Value) : null);
        var report = MpiSelfCheck.Run(comm);
        if (comm.Rank == 0)
        {
            CliConsole.Line($"libmpi: {comm.LibraryPath}; rank 0 on {comm.ProcessorName}.");
            foreach (var line in report.Describe())
            {
                CliConsole.Line(line);
            }
        }
        return report.Correct ? 0 : 1;
    }

    // How this very program is started again on every rank: its apphost, or dotnet with its assembly.
    private static IReadOnlyList<string> SelfCommand()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("The path of the running program is unknown.");
        var assembly = typeof(LaunchCommand).Assembly.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? [process, assembly] : [process];
    }

    private static int RunMpirun(string mpirun, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(mpirun) { UseShellExecute = false };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{mpirun} did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ArgumentException($"{mpirun} could not be started ({e.Message}): install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin) or pass --mpirun PATH.", e);
        }
        using (process)
        {
            // Ctrl-C reaches mpirun itself (same process group) and mpirun ends the ranks; a SIGTERM sent to this process
            // is passed on. Either way this process waits for mpirun and returns its exit code.
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                _ = Kill(process.Id, 15);
            });
            process.WaitForExit();
            return process.ExitCode;
        }
    }

    private static bool IsRoot() => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? GetEuid() == 0 : false;

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();
}
