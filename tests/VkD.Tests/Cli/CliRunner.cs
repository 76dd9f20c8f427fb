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
}
