using System.ComponentModel;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Training.Loop;
using VkD.Training.Options;
using VkD.Training.Sessions;
using VkD.Training.Sweeps;

namespace VkD.Cli.Commands;

/// <summary>Flags of <c>vkd sweep</c>; the command to repeat follows <c>--</c>.</summary>
public sealed class SweepSettings : CommandSettings
{
    /// <summary>Seeds to run (<c>0,1,2</c>).</summary>
    [CommandOption("--seeds <LIST>"), Description("Seeds to run, comma-separated (0,1,2); seed K runs in <output-dir>/seedK.")]
    public string? Seeds { get; set; }

    /// <summary>Seeds at a time.</summary>
    [CommandOption("--parallel <N>"), Description("Seeds at a time: 1 (default) runs them one after another in this process; N > 1 runs up to N child vkd processes.")]
    public int? Parallel { get; set; }
}

/// <summary>
/// <c>vkd sweep --seeds 0,1,2 [--parallel N] -- distill FLAGS</c>: runs the command once per seed, each in
/// <c>&lt;output-dir&gt;/seed{K}</c>, then writes sweep.json and sweep.md (mean ± sample std of best and last top-1/top-5,
/// the per-seed values, the config and the software). A thin layer over <see cref="Sweep.Run"/>.
/// </summary>
public sealed class SweepCommand : Command<SweepSettings>
{
    // Spectre's remaining arguments lose the digits of a negative number ("-3" becomes "-"), so the command after
    // "--" is taken from the arguments as given (set by Program.Run).
    private static readonly AsyncLocal<string[]?> CommandLine = new();

    /// <summary>Records the process's arguments as given, for the command after <c>--</c>.</summary>
    public static void SetArguments(string[] args) => CommandLine.Value = args;

    /// <inheritdoc />
    public override int Execute(CommandContext context, SweepSettings settings, CancellationToken cancellationToken)
    {
        var seeds = SweepRequest.ParseSeeds(settings.Seeds);
        var parsed = SweepCommandLine.Parse(CommandLine.Value is { } given ? SweepCommandLine.AfterSeparator(given) : context.Remaining.Raw);
        if (parsed is null)
        {
            return 0; // the command's --help was shown
        }
        var (kind, options) = parsed.Value;
        var request = new SweepRequest { Kind = kind, Options = options, Seeds = seeds, Parallel = settings.Parallel ?? 1 };
        request.Validate();
        if (request.Parallel > 1 && options.Threads == 0)
        {
            CliConsole.Warn($"--threads is not set: each of the {request.Parallel} parallel runs uses libtorch's default thread count; pass --threads so they share the cores.");
        }

        var console = CliConsole.Current;
        var gate = new object();
        void Say(string line)
        {
            lock (gate)
            {
                CliConsole.Current = console; // child-process output arrives on other threads
                CliConsole.Line(line);
            }
        }
        ISeedRunner runner = request.Parallel > 1
            ? new ChildProcessSeedRunner(VkdExecutable.Path, VkdExecutable.LeadingArguments,
                run => [run.Kind == SessionKind.Train ? "train" : "distill", "--config", run.OptionsFile],
                (seed, line) =>
                {
                    // The log file has everything; the terminal gets what a user must see.
                    if (line.StartsWith("error:", StringComparison.Ordinal) || line.StartsWith("warning:", StringComparison.Ordinal) || line.StartsWith("Finished", StringComparison.Ordinal))
                    {
                        Say($"[seed {seed}] {line}");
                    }
                })
            : new InProcessSeedRunner((run, body) => ProgressObserver.Run($"seed {run.Seed}", observer => body(observer)));

        using var signals = new StopOnSignal("every running seed after its current step, with its position saved");
        SweepResult result;
        try
        {
            result = Sweep.Run(request, runner, Say, signals.Token);
        }
        catch (TrainingInterruptedException e)
        {
            CliConsole.Error(e.Message + " Run the same vkd sweep again to resume the unfinished seeds.");
            return signals.ExitCode == 0 ? TrainingCommandRunner.Interrupted : signals.ExitCode;
        }
        if (result.Table is null)
        {
            foreach (var f in result.Failures)
            {
                CliConsole.Error($"seed {f.Seed} stopped with exit code {f.ExitCode}{(f.LogFile is null ? "" : $"; see {f.LogFile}")}.");
            }
            CliConsole.Error("The sweep is not complete, so no table was written; run the same vkd sweep again to resume the unfinished seeds.");
            return signals.ExitCode != 0 ? signals.ExitCode : result.Failures.Count > 0 ? result.Failures[0].ExitCode : TrainingCommandRunner.Interrupted;
        }
        foreach (var line in File.ReadLines(result.MarkdownPath!).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)))
        {
            CliConsole.Line(line);
        }
        CliConsole.Line($"Wrote {result.JsonPath} and {result.MarkdownPath}.");
        return 0;
    }
}

/// <summary>Turns the command after <c>--</c> into resolved options, with the same parser and rules as running it directly.</summary>
internal static class SweepCommandLine
{
    /// <summary>The arguments after the first <c>--</c>; none when there is no <c>--</c>.</summary>
    public static IReadOnlyList<string> AfterSeparator(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--")
            {
                return args.Skip(i + 1).ToArray();
            }
        }
        return [];
    }

    /// <summary>The kind and resolved options of <paramref name="raw"/> (<c>distill FLAGS</c>); null when it only asked for help.</summary>
    public static (SessionKind Kind, TrainingOptions Options)? Parse(IReadOnlyList<string> raw)
    {
        if (raw.Count == 0)
        {
            throw new ArgumentException("vkd sweep needs the command to repeat after --: vkd sweep --seeds 0,1,2 -- distill <flags>.");
        }
        if (raw[0] is not ("train" or "distill"))
        {
            throw new ArgumentException($"vkd sweep repeats train or distill, not '{raw[0]}': vkd sweep --seeds 0,1,2 -- distill <flags>.");
        }
        (SessionKind, TrainingOptions)? result = null;
        int Capture(SessionKind kind, TrainingSettings settings)
        {
            if (settings.Seed is { } seed)
            {
                CliConsole.Warn($"--seed {seed} in the command is replaced by each of --seeds.");
            }
            result = (kind, OptionsResolver.Resolve(settings, new TrainingOptions(), CliConsole.Warn));
            return 0;
        }
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("vkd sweep --seeds LIST --");
            config.ConfigureConsole(CliConsole.Current);
            config.PropagateExceptions();
            config.UseStrictParsing();
            config.AddDelegate<DistillSettings>("distill", (_, s, _) => Capture(SessionKind.Distill, s));
            config.AddDelegate<TrainSettings>("train", (_, s, _) => Capture(SessionKind.Train, s));
        });
        app.Run(raw);
        return result;
    }
}

/// <summary>Where this <c>vkd</c> can be started again as a child process.</summary>
internal static class VkdExecutable
{
    private static readonly (string Path, string[] Leading) Resolved = Resolve();

    /// <summary>The program to start.</summary>
    public static string Path => Resolved.Path;

    /// <summary>Arguments before the command (<c>vkd.dll</c> when the program is <c>dotnet</c>).</summary>
    public static IReadOnlyList<string> LeadingArguments => Resolved.Leading;

    private static (string, string[]) Resolve()
    {
        var process = Environment.ProcessPath;
        if (process is not null && System.IO.Path.GetFileNameWithoutExtension(process).Equals("vkd", StringComparison.OrdinalIgnoreCase))
        {
            return (process, []);
        }
        // Started as `dotnet vkd.dll`, or hosted (tests): the apphost next to vkd.dll, else dotnet with the dll.
        var dll = typeof(Program).Assembly.Location;
        var apphost = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(dll)!, OperatingSystem.IsWindows() ? "vkd.exe" : "vkd");
        if (File.Exists(apphost))
        {
            return (apphost, []);
        }
        var dotnet = process is not null && System.IO.Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? process : "dotnet";
        return (dotnet, [dll]);
    }
}
