using Spectre.Console;

namespace VkD.Cli.Infrastructure;

/// <summary>The console the running command writes to: the real terminal, or a test's captured console.
/// Flows with the async context so parallel in-process runs (tests) do not share it.</summary>
public static class CliConsole
{
    private static readonly AsyncLocal<IAnsiConsole?> CurrentConsole = new();

    /// <summary>The active console.</summary>
    public static IAnsiConsole Current
    {
        get => CurrentConsole.Value ?? AnsiConsole.Console;
        set => CurrentConsole.Value = value;
    }

    /// <summary>True when the active console is an interactive terminal (progress bars), false when redirected.</summary>
    public static bool IsInteractive => Current.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>Writes one plain line (no markup interpretation).</summary>
    public static void Line(string text)
    {
        if (IsInteractive)
        {
            Current.WriteLine(text);
        }
        else
        {
            Raw(text);
        }
    }

    /// <summary>Writes a warning line.</summary>
    public static void Warn(string text)
    {
        if (IsInteractive)
        {
            Current.MarkupLineInterpolated($"[yellow]warning:[/] {text}");
        }
        else
        {
            Raw("warning: " + text);
        }
    }

    /// <summary>Writes an error line.</summary>
    public static void Error(string text)
    {
        if (IsInteractive)
        {
            Current.MarkupLineInterpolated($"[red]error:[/] {text}");
        }
        else
        {
            Raw("error: " + text);
        }
    }

    // Redirected output goes straight to the writer: Spectre would wrap it at its default 80 columns.
    private static void Raw(string text)
    {
        var writer = Current.Profile.Out.Writer;
        writer.WriteLine(text);
        writer.Flush();
    }
}
