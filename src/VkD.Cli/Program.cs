using Spectre.Console.Cli;

namespace VkD.Cli;

/// <summary>Entry point of the <c>vkd</c> command line: a thin layer over the VkD libraries.</summary>
public static class Program
{
    /// <summary>Runs <c>vkd</c> with the given arguments and returns its exit code.</summary>
    public static int Main(string[] args)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("vkd");
            config.SetApplicationVersion(typeof(Program).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
            config.PropagateExceptions();
            config.AddCommand<Commands.ExportCommand>("export").WithDescription("Export a zoo model with trained weights to ONNX.");
        });
        return app.Run(args);
    }
}
