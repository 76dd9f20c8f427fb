using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace VkD.Cli.Commands;

/// <summary>Marks a flag the reference accepts but never uses; we accept it too, warn, and ignore it.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class CompatibilityOnlyAttribute : Attribute;

/// <summary>
/// Flags shared by <c>vkd train</c> and <c>vkd distill</c>. Every value is nullable: null means "not given", so a value
/// from <c>--config</c> (or the default) applies; a given flag always wins. Property names equal
/// <see cref="VkD.Training.Options.TrainingOptions"/>'s, which is how they are copied over.
/// </summary>
public class TrainingSettings : CommandSettings
{
    /// <summary>--config.</summary>
    [CommandOption("--config <FILE>"), Description("YAML or JSON file of options (flag names as keys); flags given on the command line override it.")]
    public string? Config { get; set; }

    /// <summary>--data-path.</summary>
    [CommandOption("--data-path <DIR>"), Description("Dataset root (IDX files, image folder with train/ and val/, or a digits CSV).")]
    public string? DataPath { get; set; }

    /// <summary>--data-set.</summary>
    [CommandOption("--data-set <KIND>"), Description("Dataset kind; 'auto' detects it from the files.")]
    public string? DataSet { get; set; }

    /// <summary>--input-size.</summary>
    [CommandOption("--input-size <PX>"), Description("Network input side; 0 = the dataset's native size.")]
    public int? InputSize { get; set; }

    /// <summary>--batch-size.</summary>
    [CommandOption("--batch-size <N>"), Description("Images per step (default 256).")]
    public int? BatchSize { get; set; }

    /// <summary>--epochs.</summary>
    [CommandOption("--epochs <N>"), Description("Epochs (default 300).")]
    public int? Epochs { get; set; }

    /// <summary>--lr.</summary>
    [CommandOption("--lr <LR>"), Description("Peak learning rate (default 5e-4). Used as given (the reference ignores it).")]
    public double? Lr { get; set; }

    /// <summary>--min-lr.</summary>
    [CommandOption("--min-lr <LR>"), Description("Cosine floor (default 5e-6).")]
    public double? MinLr { get; set; }

    /// <summary>--warmup-epochs.</summary>
    [CommandOption("--warmup-epochs <N>"), Description("Linear warmup epochs (default 0, as the reference runs).")]
    public double? WarmupEpochs { get; set; }

    /// <summary>--warmup-lr.</summary>
    [CommandOption("--warmup-lr <LR>"), Description("Warmup start learning rate (default 5e-6).")]
    public double? WarmupLr { get; set; }

    /// <summary>--weight-decay.</summary>
    [CommandOption("--weight-decay <WD>"), Description("AdamW weight decay (default 0.05); none on 1-D params, biases, tokens, pos_embed, projector.")]
    public double? WeightDecay { get; set; }

    /// <summary>--opt-eps.</summary>
    [CommandOption("--opt-eps <EPS>"), Description("AdamW epsilon (default 1e-8).")]
    public double? OptEps { get; set; }

    /// <summary>--clip-grad.</summary>
    [CommandOption("--clip-grad <NORM>"), Description("Clip the global gradient norm (default: no clipping).")]
    public double? ClipGrad { get; set; }

    /// <summary>--smoothing.</summary>
    [CommandOption("--smoothing <S>"), Description("Label smoothing (default 0.1).")]
    public double? Smoothing { get; set; }

    /// <summary>--mixup.</summary>
    [CommandOption("--mixup <ALPHA>"), Description("Mixup alpha, 0 disables (default 0.8).")]
    public double? Mixup { get; set; }

    /// <summary>--cutmix.</summary>
    [CommandOption("--cutmix <ALPHA>"), Description("CutMix alpha, 0 disables (default 1.0).")]
    public double? Cutmix { get; set; }

    /// <summary>--mixup-prob.</summary>
    [CommandOption("--mixup-prob <P>"), Description("Probability of mixing a batch (default 1.0).")]
    public double? MixupProb { get; set; }

    /// <summary>--mixup-switch-prob.</summary>
    [CommandOption("--mixup-switch-prob <P>"), Description("Probability of CutMix instead of Mixup (default 0.5).")]
    public double? MixupSwitchProb { get; set; }

    /// <summary>--student-ema.</summary>
    [CommandOption("--student-ema"), Description("Keep, evaluate and checkpoint an EMA of the model.")]
    public bool? StudentEma { get; set; }

    /// <summary>--no-student-ema.</summary>
    [CommandOption("--no-student-ema"), Description("Turn the EMA off (overrides a config file).")]
    public bool? NoStudentEma { get; set; }

    /// <summary>--student-ema-decay.</summary>
    [CommandOption("--student-ema-decay <M>"), Description("EMA momentum at step 0, rising linearly to 1.0 (default 0.996).")]
    public double? StudentEmaDecay { get; set; }

    /// <summary>--drop-path.</summary>
    [CommandOption("--drop-path <P>"), Description("Stochastic depth rate (default 0; the reference accepts 0.1 but never uses it).")]
    public double? DropPath { get; set; }

    /// <summary>--output-dir.</summary>
    [CommandOption("--output-dir|--output_dir <DIR>"), Description("Folder for checkpoints, logs, plots and the summary.")]
    public string? OutputDir { get; set; }

    /// <summary>--resume.</summary>
    [CommandOption("--resume <CKPT>"), Description("Resume from a checkpoint ('auto' = <output-dir>/latest.pth.tar if present).")]
    public string? Resume { get; set; }

    /// <summary>--seed.</summary>
    [CommandOption("--seed <N>"), Description("Seed of everything random (default 0).")]
    public int? Seed { get; set; }

    /// <summary>--num-workers.</summary>
    [CommandOption("--num-workers|--num_workers <N>"), Description("Loader threads (results do not depend on it).")]
    public int? NumWorkers { get; set; }

    /// <summary>--eval-every.</summary>
    [CommandOption("--eval-every <N>"), Description("Evaluate every N epochs (default 1; the last epoch always).")]
    public int? EvalEvery { get; set; }

    /// <summary>--save-every.</summary>
    [CommandOption("--save-every <N>"), Description("Keep ep{N}.pth.tar every N epochs (default 20, as the reference).")]
    public int? SaveEvery { get; set; }

    /// <summary>--save-every-iters.</summary>
    [CommandOption("--save-every-iters <N>"), Description("Also write latest.pth.tar every N iterations inside an epoch (0 = off).")]
    public int? SaveEveryIters { get; set; }

    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>"), Description("Intra-op threads (0 = default). Results are deterministic per thread count.")]
    public int? Threads { get; set; }

    /// <summary>--device.</summary>
    [CommandOption("--device <DEVICE>"), Description("cpu (default), cuda or cuda:N; every module and tensor of the run goes there. CUDA needs a CUDA libtorch package.")]
    public string? Device { get; set; }

    /// <summary>--schedule-unit.</summary>
    [CommandOption("--schedule-unit <UNIT>"), Description("When the learning rate changes: iteration (default, the reference's) or epoch (timm's default).")]
    public string? ScheduleUnit { get; set; }

    /// <summary>--train-subset.</summary>
    [CommandOption("--train-subset <N>"), Description("Use N training images, class-balanced and drawn with --seed (0 = all).")]
    public int? TrainSubset { get; set; }

    /// <summary>--eval-subset.</summary>
    [CommandOption("--eval-subset <N>"), Description("Use N evaluation images, class-balanced, the same for every seed (0 = all).")]
    public int? EvalSubset { get; set; }

    /// <summary>--scale-min.</summary>
    [CommandOption("--scale-min <F>"), Description("Smallest area share of the random-resized crop of images above 32 px (default 0.08, timm's and the reference's).")]
    public double? ScaleMin { get; set; }

    /// <summary>--scale-max.</summary>
    [CommandOption("--scale-max <F>"), Description("Largest area share of the random-resized crop (default 1.0).")]
    public double? ScaleMax { get; set; }

    /// <summary>--no-three-augment.</summary>
    [CommandOption("--no-three-augment"), Description("Leave 3-Augment (grayscale | solarize | blur) out of the crop recipe, e.g. for small objects at a small input size.")]
    public bool? NoThreeAugment { get; set; }

    /// <summary>--skip-bad-images.</summary>
    [CommandOption("--skip-bad-images"), Description("Leave out images that fail the pre-flight check and replace any that fail later; the list goes to bad-images.txt in the run folder.")]
    public bool? SkipBadImages { get; set; }

    /// <summary>--no-image-check.</summary>
    [CommandOption("--no-image-check"), Description("Skip the pre-flight check of every image file (for large folders known to be good).")]
    public bool? NoImageCheck { get; set; }

    // ---- accepted for compatibility with main_distributed.py, no effect ----

    /// <summary>--opt (reference: only adamw is wired).</summary>
    [CommandOption("--opt <NAME>"), Description("Optimiser: adamw (default, the reference's), sgd (Nesterov momentum, timm's sgd) or momentum.")]
    public string? Opt { get; set; }

    /// <summary>--momentum.</summary>
    [CommandOption("--momentum <M>"), Description("SGD momentum (default 0.9).")]
    public double? Momentum { get; set; }

    /// <summary>--sched.</summary>
    [CommandOption("--sched <NAME>", IsHidden = true), CompatibilityOnly]
    public string? Sched { get; set; }

    /// <summary>--aa.</summary>
    [CommandOption("--aa <POLICY>", IsHidden = true), CompatibilityOnly]
    public string? Aa { get; set; }

    /// <summary>--reprob.</summary>
    [CommandOption("--reprob <P>", IsHidden = true), CompatibilityOnly]
    public double? Reprob { get; set; }

    /// <summary>--color-jitter.</summary>
    [CommandOption("--color-jitter <F>", IsHidden = true), CompatibilityOnly]
    public double? ColorJitter { get; set; }

    /// <summary>--drop.</summary>
    [CommandOption("--drop <P>", IsHidden = true), CompatibilityOnly]
    public double? Drop { get; set; }

    /// <summary>--mixup-mode.</summary>
    [CommandOption("--mixup-mode <MODE>", IsHidden = true), CompatibilityOnly]
    public string? MixupMode { get; set; }

    /// <summary>--unscale-lr.</summary>
    [CommandOption("--unscale-lr", IsHidden = true), CompatibilityOnly]
    public bool? UnscaleLr { get; set; }

    /// <summary>--repeated-aug.</summary>
    [CommandOption("--repeated-aug", IsHidden = true), CompatibilityOnly]
    public bool? RepeatedAug { get; set; }

    /// <summary>--pin-mem.</summary>
    [CommandOption("--pin-mem", IsHidden = true), CompatibilityOnly]
    public bool? PinMem { get; set; }

    /// <summary>--local-rank.</summary>
    [CommandOption("--local-rank|--local_rank <N>", IsHidden = true), CompatibilityOnly]
    public int? LocalRank { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (BatchSize is <= 0)
        {
            return ValidationResult.Error($"--batch-size must be positive, got {BatchSize}.");
        }
        if (Epochs is <= 0)
        {
            return ValidationResult.Error($"--epochs must be positive, got {Epochs}.");
        }
        if (Lr is < 0 || MinLr is < 0 || WarmupLr is < 0)
        {
            return ValidationResult.Error("Learning rates (--lr, --min-lr, --warmup-lr) must be >= 0.");
        }
        if (Smoothing is < 0 or >= 1)
        {
            return ValidationResult.Error($"--smoothing must be in [0, 1), got {Smoothing}.");
        }
        if (MixupProb is < 0 or > 1 || MixupSwitchProb is < 0 or > 1)
        {
            return ValidationResult.Error("--mixup-prob and --mixup-switch-prob must be in [0, 1].");
        }
        if (StudentEmaDecay is < 0 or > 1)
        {
            return ValidationResult.Error($"--student-ema-decay must be in [0, 1], got {StudentEmaDecay}.");
        }
        if (MixupMode is not null && MixupMode != "batch")
        {
            return ValidationResult.Error($"--mixup-mode {MixupMode} is not supported; only 'batch' (the reference's value).");
        }
        return ValidationResult.Success();
    }
}
