using System.Diagnostics;

namespace VkD.Training.Sweeps;

/// <summary>
/// Runs each seed as a child process of the <c>vkd</c> executable (so seeds can run in parallel, each with its own
/// libtorch), started with the seed's options file; its console output is appended to the seed's log file. A stop
/// request sends the child SIGTERM, which makes it save its position and exit, so the next sweep resumes it.
/// </summary>
public sealed class ChildProcessSeedRunner : ISeedRunner
{
    private const string SetSid = "/usr/bin/setsid";

    private readonly string _executable;
    private readonly IReadOnlyList<string> _leadingArguments;
    private readonly Func<SeedRun, IReadOnlyList<string>> _arguments;
    private readonly Action<int, string> _onLine;

    /// <summary>Creates the runner.</summary>
    /// <param name="executable">The program to start (the <c>vkd</c> apphost, or <c>dotnet</c>).</param>
    /// <param name="leadingArguments">Arguments before the command (<c>vkd.dll</c> when <paramref name="executable"/> is <c>dotnet</c>).</param>
    /// <param name="arguments">The command line of one seed after <paramref name="leadingArguments"/> (e.g. <c>distill --config FILE</c>).</param>
    /// <param name="onLine">Receives (seed, line) for each line the child writes, besides the log file; null: none.</param>
    public ChildProcessSeedRunner(string executable, IReadOnlyList<string> leadingArguments, Func<SeedRun, IReadOnlyList<string>> arguments,
        Action<int, string>? onLine = null)
    {
        _executable = executable;
        _leadingArguments = leadingArguments;
        _arguments = arguments;
        _onLine = onLine ?? ((_, _) => { });
    }

    /// <inheritdoc />
    public int MaxParallel => int.MaxValue;

    /// <inheritdoc />
    public int Run(SeedRun run, CancellationToken stop)
    {
        // In its own session, a child does not also get the terminal's Ctrl-C: it gets exactly one stop request (the
        // SIGTERM below), since a second signal would end it at once instead of at a step boundary.
        var ownSession = File.Exists(SetSid);
        var start = new ProcessStartInfo(ownSession ? SetSid : _executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (ownSession)
        {
            start.ArgumentList.Add(_executable);
        }
        foreach (var a in _leadingArguments.Concat(_arguments(run)))
        {
            start.ArgumentList.Add(a);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(run.LogFile))!);
        using var log = new StreamWriter(run.LogFile, append: true) { AutoFlush = true };
        var gate = new object();
        void Write(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (gate)
            {
                log.WriteLine(line);
            }
            _onLine(run.Seed, line);
        }
        lock (gate)
        {
            log.WriteLine($"# {DateTime.UtcNow:o} {start.FileName} {string.Join(' ', start.ArgumentList)}");
        }
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {_executable}.");
        child.OutputDataReceived += (_, e) => Write(e.Data);
        child.ErrorDataReceived += (_, e) => Write(e.Data);
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        using (stop.Register(() => Terminate(child)))
        {
            child.WaitForExit();
        }
        return child.ExitCode;
    }

    // SIGTERM rather than Process.Kill (SIGKILL): the child then stops at a step boundary with its position saved.
    private static void Terminate(Process child)
    {
        try
        {
            if (child.HasExited)
            {
                return;
            }
            if (OperatingSystem.IsWindows())
            {
                child.Kill();
            }
            else
            {
                using var kill = Process.Start("kill", ["-TERM", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                kill.WaitForExit();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Exited between the check and the signal, or no kill(1): the child is then left to finish its seed.
        }
    }
}
