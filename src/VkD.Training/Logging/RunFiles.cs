namespace VkD.Training.Logging;

/// <summary>Names of the files a run writes into its output folder (documented in docs/training.md).</summary>
public static class RunFiles
{
    /// <summary>Per-iteration log: epoch, itr, lr, ce, kd, repr, total.</summary>
    public const string IterationsCsv = "iterations.csv";

    /// <summary>Per-epoch log: epoch, train_loss, acc1, acc5, loss, ema_acc1, ema_acc5, ema_loss, lr, seconds.</summary>
    public const string EpochsCsv = "epochs.csv";

    /// <summary>Final summary (JSON).</summary>
    public const string SummaryJson = "summary.json";

    /// <summary>Resolved configuration of the run (JSON).</summary>
    public const string ConfigJson = "config.json";

    /// <summary>Loss plot.</summary>
    public const string LossPlot = "loss.png";

    /// <summary>Accuracy plot.</summary>
    public const string AccuracyPlot = "accuracy.png";

    /// <summary>Checkpoint written at the end of every epoch and by mid-epoch saves (the reference's name).</summary>
    public const string LatestCheckpoint = "latest.pth.tar";

    /// <summary>Checkpoint of the best evaluated epoch.</summary>
    public const string BestCheckpoint = "best.pth.tar";

    /// <summary>Final student weights as a plain state dict (no optimizer, no projector).</summary>
    public const string FinalWeights = "model.pth";

    /// <summary>Description of <see cref="FinalWeights"/> (model name, input size, channels, classes, dataset), which a
    /// plain state dict cannot carry, so <c>vkd eval model.pth</c> needs no flags.</summary>
    public const string FinalWeightsInfo = "model.json";

    /// <summary>Image files left out or replaced under <c>--skip-bad-images</c> (tab-separated path and reason).</summary>
    public const string BadImages = "bad-images.txt";

    /// <summary>Numbered checkpoint after epoch <paramref name="epochsDone"/> (the reference's <c>ep{N}.pth.tar</c>).</summary>
    public static string EpochCheckpoint(int epochsDone) => $"ep{epochsDone}.pth.tar";

    /// <summary>Columns of <see cref="IterationsCsv"/>.</summary>
    public static readonly IReadOnlyList<string> IterationColumns = ["epoch", "itr", "lr", "ce", "kd", "repr", "total", "seconds"];

    /// <summary>Columns of <see cref="EpochsCsv"/>.</summary>
    public static readonly IReadOnlyList<string> EpochColumns =
        ["epoch", "train_loss", "acc1", "acc5", "loss", "ema_acc1", "ema_acc5", "ema_loss", "lr", "seconds"];
}
