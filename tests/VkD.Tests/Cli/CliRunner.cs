using Spectre.Console;
using VkD.Cli;

namespace VkD.Tests.Cli;

/// <summary>Runs the <c>vkd</c> command line in process with a plain, wide, non-interactive console and returns the
/// exit code and everything it printed.</summary>
internal static class CliRunner
{
    public static (int Code, string Output) Run(params string[] args)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 400;
        var code = Program.Run(args, console);
        return (code, writer.ToString());
    }

    /// <summary>The CLI's own build output, for tests that need a real process (signals, child processes); the test
    /// project builds it as a dependency of the solution.</summary>
    public static string Executable()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VkD.slnx")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        var exe = Path.Combine(dir!.FullName, "src", "VkD.Cli", "bin", "Release", "net10.0", "linux-x64", "vkd");
        Assert.True(File.Exists(exe), $"{exe} is not built");
        return exe;
    }
}
