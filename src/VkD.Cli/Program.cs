using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Cli.Commands;
using VkD.Cli.Infrastructure;

namespace VkD.Cli;

/// <summary>Entry point of the <c>vkd</c> command line: a thin layer over the VkD libraries.</summary>
public static class Program
{
    /// <summary>Exit code for bad flags, bad data or bad checkpoints (the user's input).</summary>
    public const int UsageError = 2;

    /// <summary>Exit code when training stops on a NaN/inf loss.</summary>
    public const int TrainingDiverged = 3;

    /// <summary>Exit code for an I/O failure of the machine (disk full, read-only folder); files written so far stay complete.</summary>
    public const int EnvironmentFailure = 1;

    /// <summary>Runs <c>vkd</c> with the given arguments and returns its exit code.</summary>
    public static int Main(string[] args)
    {
        // Before anything allocates: the process may be replaced by itself under jemalloc (VkD.Training.Native.RetainingAllocator).
        if (VkD.Training.Native.RetainingAllocator.ReexecIfNeeded(args) is { } allocatorError)
        {
            Console.Error.WriteLine($"Error: {allocatorError}");
            return UsageError;
        }
        return Run(args);
    }

    /// <summary>Runs <c>vkd</c> writing to <paramref name="console"/> (the terminal when null); used by tests.</summary>
    public static int Run(string[] args, IAnsiConsole? console = null)
    {
        if (console is not null)
        {
            CliConsole.Current = console;
        }
        else
        {
            VkD.Distributed.RankConsole.QuietUnlessMain(); // ranks other than 0 of an mpirun job print errors only
        }
        args = LaunchCommand.InsertSeparator(args);
        SweepCommand.SetArguments(args);
        Commands.OnnxTeacherWiring.Register(); // onnx: and ort: teacher kinds for vkd distill (ONNX part)
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("vkd");
            config.SetApplicationVersion(typeof(Program).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
            config.ConfigureConsole(CliConsole.Current);
            config.PropagateExceptions();
            config.UseStrictParsing();
            config.AddCommand<QuickstartCommand>("quickstart")
                .WithDescription("Distill a shipped teacher into a small student three ways (no KD, logit KD, VkD) in ~5 minutes, offline.");
            config.AddCommand<DistillCommand>("distill")
                .WithDescription("Train a student from a frozen teacher: CE + gamma*KD + alpha*VkD feature loss (reference: main_distributed.py).");
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Supervised training of any zoo model (teachers, no-KD baselines).");
            config.AddCommand<SweepCommand>("sweep")
                .WithDescription("Run train or distill for several seeds (in sequence or as parallel processes) and write one table: mean ± std of best and last top-1/top-5, per-seed values, config, software.");
            config.AddCommand<EvalCommand>("eval")
                .WithDescription("Top-1/top-5/loss of a checkpoint on a dataset (reference: --eval-student).");
            config.AddBranch("data", data => data.AddCommand<Commands.DataMakeDetectionCommand>("make-detection").WithDescription("Compose real objects into a COCO detection set."));
            config.AddBranch("detect", detect =>
            {
                detect.AddCommand<Commands.DetectVidtEvalCommand>("eval").WithDescription("COCO bbox evaluation (pycocotools' 12 numbers) of a ViDT checkpoint (--resume, --coco_path) or of a results JSON (--coco-gt, --results).");
                detect.AddCommand<Commands.DetectVidtPredictCommand>("predict").WithDescription("Draw a ViDT checkpoint's boxes, labels and scores on images (PNG).");
                detect.AddCommand<Commands.DetectTrainCommand>("train").WithDescription("Train a ViDT detector with ViDT's recipe (main.py flags; distils when --distil_model is given).");
                detect.AddCommand<Commands.DetectDistillCommand>("distill").WithDescription("Train a ViDT student from a frozen ViDT teacher: VkD's six projected pairs (--distil_model vkd) or ViDT's token matching (vidt).");
            });
            config.AddCommand<Commands.ExportCommand>("export").WithDescription("Export a zoo model with trained weights to ONNX.");
            config.AddCommand<LaunchCommand>("launch")
                .WithDescription("Run distill/train as a data-parallel job under Open MPI's mpirun (reference: torch.distributed.launch --nproc_per_node=N).");
            config.AddBranch("gan", gan =>
            {
                gan.SetDescription("Class-conditional BigGAN (DiffAugment, LeCam) with D optionally distilled from a frozen encoder; FID/KID.");
                gan.AddCommand<Commands.GanTrainCommand>("train").WithDescription("Train G and D (no distillation).");
                gan.AddCommand<Commands.GanDistillCommand>("distill").WithDescription("Train with D distilled from --teacher through an orthogonal projector and --teacher-norm.");
                gan.AddCommand<Commands.GanEvalCommand>("eval").WithDescription("FID and KID of a checkpoint's generator.");
                gan.AddCommand<Commands.GanSampleCommand>("sample").WithDescription("A PNG grid of samples, one row per class.");
            });
        });
        try
        {
            return app.Run(args);
        }
        catch (Exception e) when (e is CommandParseException or CommandRuntimeException)
        {
            CliConsole.Error(e.Message);
            return UsageError;
        }
        catch (Exception e) when (e is VkD.Training.Loop.NonFiniteLossException or VkD.Training.Checkpoints.NonFiniteStateException)
        {
            CliConsole.Error(e.Message);
            return TrainingDiverged;
        }
        catch (Exception e) when (e is VkD.Distributed.MpiException or VkD.Training.Distributed.ReplicaMismatchException)
        {
            CliConsole.Error(e.Message);
            return 1;
        }
        catch (Exception e) when (IsUserError(e))
        {
            CliConsole.Error(e.Message);
            return UsageError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Disk full, a read-only or vanished folder: the machine's problem, not the input's; what was saved before
            // stays complete (every file is written atomically).
            CliConsole.Error($"I/O error: {e.Message}");
            return EnvironmentFailure;
        }
    }

    // Problems with what the user passed (flags, files, data, checkpoints) get one clear line, not a stack trace.
    private static bool IsUserError(Exception e) => e is ArgumentException or FileNotFoundException or DirectoryNotFoundException
        or InvalidDataException or KeyNotFoundException or VkD.Interop.Checkpoints.CheckpointFormatException
        or VkD.Interop.Checkpoints.CheckpointMismatchException or VkD.Training.Logging.OutputFolderLockedException;
}
