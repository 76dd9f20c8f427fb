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
            config.AddBranch("data", data => data.AddCommand<Commands.DataMakeDetectionCommand>("make-detection").WithDescription("Compose real objects into a COCO detection set."));
            config.AddBranch("detect", detect => detect.AddCommand<Commands.DetectEvalCommand>("eval").WithDescription("COCO bbox evaluation (pycocotools' 12 numbers)."));
        });
        return app.Run(args);
    }
}
