using System.Runtime.InteropServices;
using VkD.Cli.Commands;

namespace VkD.Cli.Infrastructure;

/// <summary>SIGINT and SIGTERM request a stop at the next step boundary instead of killing the process mid-step like
/// SIGKILL; a second signal is left to the default handler, which ends the process at once.</summary>
internal sealed class StopOnSignal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly string _what;
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;

    public StopOnSignal(string what)
    {
        _what = what;
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }


    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>130 after SIGINT, 143 after SIGTERM, 0 without a signal.</summary>
    public int ExitCode { get; private set; }

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _stop.Dispose();
    }

    private void OnSignal(PosixSignalContext c)
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        c.Cancel = true;
        ExitCode = c.Signal == PosixSignal.SIGTERM ? TrainingCommandRunner.Terminated : TrainingCommandRunner.Interrupted;
        CliConsole.Warn($"{c.Signal} received: stopping {_what} (send it again to stop at once).");
        _stop.Cancel();
    }
}
