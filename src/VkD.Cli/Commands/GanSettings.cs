using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Generation.Augmentation;
using VkD.Generation.Training;

namespace VkD.Cli.Commands;

/// <summary>Data and FID flags shared by every <c>vkd gan</c> command that reads a dataset.</summary>
public class GanDataSettings : CommandSettings
{
    /// <summary>--data-path.</summary>
    [CommandOption("--data-path <DIR>"), Description("Dataset root (IDX files, or an image folder with train/ and val/).")]
    public string? DataPath { get; set; }

    /// <summary>--data-set.</summary>
    [CommandOption("--data-set <KIND>"), Description("Dataset kind; 'auto' (default) detects it from the files.")]
    public string? DataSet { get; set; }

    /// <summary>--fid-features.</summary>
    [CommandOption("--fid-features <NET>"), Description("FID/KID feature network (default: the shipped domain classifier of the data, assets/fid/, for Fashion-MNIST): a zoo model name (with --fid-weights, e.g. a classifier trained on the data with vkd train), onnx:PATH, or none. Never the distillation teacher.")]
    public string? FidFeatures { get; set; }

    /// <summary>--fid-weights.</summary>
    [CommandOption("--fid-weights <CKPT>"), Description("Weights of a zoo FID network.")]
    public string? FidWeights { get; set; }

    /// <summary>--fid-input-size.</summary>
    [CommandOption("--fid-input-size <PX>"), Description("Image side the FID network gets (default: its own, else the data's).")]
    public int? FidInputSize { get; set; }

    /// <summary>--fid-normalize.</summary>
    [CommandOption("--fid-normalize <MODE>"), Description("FID network input normalisation: data (default: the dataset's statistics and channels), imagenet (3 channels) or auto.")]
    public string? FidNormalize { get; set; }

    /// <summary>--fid-samples.</summary>
    [CommandOption("--fid-samples <N>"), Description("Generated images per evaluation (default 10000).")]
    public int? FidSamples { get; set; }

    /// <summary>--fid-real.</summary>
    [CommandOption("--fid-real <N>"), Description("Real test images of the FID reference, class-balanced (default 10000; 0 = all).")]
    public int? FidReal { get; set; }

    /// <summary>--fid-cache.</summary>
    [CommandOption("--fid-cache <FILE>"), Description("Cache of the real features (default <output-dir>/fid-reference.pth); reused when computed with the same network and data.")]
    public string? FidCache { get; set; }

    /// <summary>--kid-subsets.</summary>
    [CommandOption("--kid-subsets <N>"), Description("KID subsets (default 100).")]
    public int? KidSubsets { get; set; }

    /// <summary>--kid-subset-size.</summary>
    [CommandOption("--kid-subset-size <N>"), Description("KID subset size (default 1000, clipped to the smaller side).")]
    public int? KidSubsetSize { get; set; }

    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>"), Description("Intra-op threads (0 = default).")]
    public int? Threads { get; set; }

    /// <summary>The run options these flags give, on top of <paramref name="o"/>.</summary>
    public GanRunOptions Apply(GanRunOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var evaluation = o.Evaluation with
        {
            Samples = FidSamples ?? o.Evaluation.Samples,
            KidSubsets = KidSubsets ?? o.Evaluation.KidSubsets,
            KidSubsetSize = KidSubsetSize ?? o.Evaluation.KidSubsetSize,
        };
        return o with
        {
            DataPath = DataPath ?? o.DataPath,
            DataSet = DataSet ?? o.DataSet,
            FidFeatures = FidFeatures ?? o.FidFeatures,
            FidWeights = FidWeights ?? o.FidWeights,
            FidInputSize = FidInputSize ?? o.FidInputSize,
            FidNormalize = FidNormalize ?? o.FidNormalize,
            FidReal = FidReal ?? o.FidReal,
            FidCache = FidCache ?? o.FidCache,
            Threads = Threads ?? o.Threads,
            Evaluation = evaluation,
        };
    }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(DataPath))
        {
            return ValidationResult.Error("--data-path is required.");
        }
        if (FidSamples is < 2 || FidReal is < 0 || KidSubsets is <= 0 || KidSubsetSize is < 2)
        {
            return ValidationResult.Error("--fid-samples (>= 2), --fid-real (>= 0), --kid-subsets (> 0) and --kid-subset-size (>= 2) are out of range.");
        }
        return ValidationResult.Success();
    }
}

/// <summary>Flags of <c>vkd gan train</c> (and, with the teacher flags, <c>vkd gan distill</c>).</summary>
public class GanTrainSettings : GanDataSettings
{
    /// <summary>--data-fraction.</summary>
    [CommandOption("--data-fraction <F>"), Description("Train on this fraction of the training set (0.1, 0.2, 1.0): a fixed class-balanced subset drawn with --data-seed.")]
    public double? DataFraction { get; set; }

    /// <summary>--data-seed.</summary>
    [CommandOption("--data-seed <N>"), Description("Seed of the --data-fraction draw (default 0, the same subset for every --seed).")]
    public long? DataSeed { get; set; }

    /// <summary>--channels.</summary>
    [CommandOption("--channels <N>"), Description("Image channels of G and D: 1 or 3 (default: the data's).")]
    public int? Channels { get; set; }

    /// <summary>--no-mirror.</summary>
    [CommandOption("--no-mirror"), Description("Do not flip real images left-right (the reference's --mirror_augment is on by default).")]
    public bool? NoMirror { get; set; }

    /// <summary>--ch.</summary>
    [CommandOption("--ch <N>"), Description("Channel multiplier of G and D (default 64, the reference's; every block is 4ch wide).")]
    public int? Ch { get; set; }

    /// <summary>--dim-z.</summary>
    [CommandOption("--dim-z <N>"), Description("Noise dimension (default 128).")]
    public int? DimZ { get; set; }

    /// <summary>--batch-size.</summary>
    [CommandOption("--batch-size <N>"), Description("Images per D step and per G step (default 50).")]
    public int? BatchSize { get; set; }

    /// <summary>--d-steps.</summary>
    [CommandOption("--d-steps <N>"), Description("D steps per G step (default 4).")]
    public int? DSteps { get; set; }

    /// <summary>--d-lr.</summary>
    [CommandOption("--d-lr <LR>"), Description("D's Adam learning rate (default 2e-4).")]
    public double? DLr { get; set; }

    /// <summary>--g-lr.</summary>
    [CommandOption("--g-lr <LR>"), Description("G's Adam learning rate (default 2e-4).")]
    public double? GLr { get; set; }

    /// <summary>--diffaugment.</summary>
    [CommandOption("--diffaugment <POLICY>"), Description("DiffAugment ops on D's real and fake inputs: comma-separated color, translation, cutout, or none (default translation,cutout).")]
    public string? DiffAugment { get; set; }

    /// <summary>--lecam.</summary>
    [CommandOption("--lecam <W>"), Description("LeCam weight (default 0.3; 0 disables).")]
    public double? LeCam { get; set; }

    /// <summary>--lecam-start.</summary>
    [CommandOption("--lecam-start <ITR>"), Description("Iteration after which LeCam applies (default 1000).")]
    public long? LeCamStart { get; set; }

    /// <summary>--epochs.</summary>
    [CommandOption("--epochs <N>"), Description("Epochs over the (sub)set (default 1; --iterations overrides).")]
    public int? Epochs { get; set; }

    /// <summary>--iterations.</summary>
    [CommandOption("--iterations <N>"), Description("G steps to train (rounded up to whole epochs).")]
    public long? Iterations { get; set; }

    /// <summary>--epoch-iterations.</summary>
    [CommandOption("--epoch-iterations <N>"), Description("Iterations per training epoch (evaluation, epoch checkpoints, plots); 0 (default) = one pass over the (sub)set. Batches continue across passes, so --iterations is exact when it is a multiple.")]
    public int? EpochIterations { get; set; }

    /// <summary>--no-ema.</summary>
    [CommandOption("--no-ema"), Description("Keep no EMA of G.")]
    public bool? NoEma { get; set; }

    /// <summary>--ema-decay.</summary>
    [CommandOption("--ema-decay <M>"), Description("Decay of the EMA of G, constant from --ema-start on (BigGAN's; default 0.9999).")]
    public double? EmaDecay { get; set; }

    /// <summary>--ema-start.</summary>
    [CommandOption("--ema-start <STEP>"), Description("First iteration whose EMA update averages; before it the EMA is a copy of G (BigGAN's --ema_start; default 1000).")]
    public long? EmaStart { get; set; }

    /// <summary>--grid-per-class.</summary>
    [CommandOption("--grid-per-class <N>"), Description("Samples per class in each evaluation's grid (default 10).")]
    public int? GridPerClass { get; set; }

    /// <summary>--eval-every.</summary>
    [CommandOption("--eval-every <N>"), Description("Evaluate (FID/KID, sample grid) every N epochs (default 1; the last always).")]
    public int? EvalEvery { get; set; }

    /// <summary>--save-every.</summary>
    [CommandOption("--save-every <N>"), Description("Keep ep{N}.pth.tar every N epochs (default 20).")]
    public int? SaveEvery { get; set; }

    /// <summary>--save-every-iters.</summary>
    [CommandOption("--save-every-iters <N>"), Description("Also write latest.pth.tar every N iterations inside an epoch (0 = off).")]
    public int? SaveEveryIters { get; set; }

    /// <summary>--output-dir.</summary>
    [CommandOption("--output-dir <DIR>"), Description("Folder for checkpoints, logs, sample grids and plots.")]
    public string? OutputDir { get; set; }

    /// <summary>--resume.</summary>
    [CommandOption("--resume <CKPT>"), Description("Resume from a checkpoint ('auto' = <output-dir>/latest.pth.tar if present).")]
    public string? Resume { get; set; }

    /// <summary>--seed.</summary>
    [CommandOption("--seed <N>"), Description("Seed of initialisation, noise, augmentation and batch order (default 0).")]
    public int? Seed { get; set; }

    /// <summary>--device.</summary>
    [CommandOption("--device <DEVICE>"), Description("cpu (default) or cuda[:N].")]
    public string? Device { get; set; }

    /// <summary>The run options of these flags.</summary>
    public virtual GanRunOptions ToOptions()
    {
        var o = Apply(new GanRunOptions());
        var gan = o.Gan with
        {
            BatchSize = BatchSize ?? o.Gan.BatchSize,
            DSteps = DSteps ?? o.Gan.DSteps,
            DLr = DLr ?? o.Gan.DLr,
            GLr = GLr ?? o.Gan.GLr,
            Augment = DiffAugment is null ? o.Gan.Augment : DiffAugmentPolicy.Parse(DiffAugment),
            LeCamWeight = LeCam ?? o.Gan.LeCamWeight,
            LeCamStart = LeCamStart ?? o.Gan.LeCamStart,
            GridPerClass = GridPerClass ?? o.Gan.GridPerClass,
            EmaDecay = EmaDecay ?? o.Gan.EmaDecay,
            EmaStart = EmaStart ?? o.Gan.EmaStart,
        };
        return o with
        {
            DataFraction = DataFraction ?? o.DataFraction,
            DataSeed = DataSeed ?? o.DataSeed,
            Channels = Channels ?? o.Channels,
            Mirror = NoMirror != true,
            Ch = Ch ?? o.Ch,
            DimZ = DimZ ?? o.DimZ,
            Gan = gan,
            Epochs = Epochs ?? o.Epochs,
            Iterations = Iterations ?? o.Iterations,
            EpochIterations = EpochIterations ?? o.EpochIterations,
            Ema = NoEma != true,
            EvalEvery = EvalEvery ?? o.EvalEvery,
            SaveEvery = SaveEvery ?? o.SaveEvery,
            SaveEveryIters = SaveEveryIters ?? o.SaveEveryIters,
            OutputDir = OutputDir ?? o.OutputDir,
            Resume = Resume ?? o.Resume,
            Seed = Seed ?? o.Seed,
            Device = Device ?? o.Device,
        };
    }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        var baseResult = base.Validate();
        if (!baseResult.Successful)
        {
            return baseResult;
        }
        if (DataFraction is not null and not (> 0 and <= 1))
        {
            return ValidationResult.Error($"--data-fraction must be in (0, 1], got {DataFraction}.");
        }
        if (Ch is <= 0 || DimZ is <= 0 || BatchSize is < 2 || DSteps is <= 0 || Epochs is <= 0 || Iterations is <= 0 || EpochIterations is < 0)
        {
            return ValidationResult.Error("--ch, --dim-z, --d-steps, --epochs and --iterations must be positive, --epoch-iterations >= 0 and --batch-size >= 2.");
        }
        if (DLr is <= 0 || GLr is <= 0 || LeCam is < 0 || EmaDecay is < 0 or > 1 || EmaStart is < 0)
        {
            return ValidationResult.Error("--d-lr and --g-lr must be > 0, --lecam >= 0, --ema-decay in [0, 1] and --ema-start >= 0.");
        }
        return ValidationResult.Success();
    }
}

/// <summary>Flags of <c>vkd gan distill</c>: the training flags and the distillation of D.</summary>
public sealed class GanDistillSettings : GanTrainSettings
{
    /// <summary>--teacher.</summary>
    [CommandOption("--teacher <NET>"), Description("Frozen encoder D is distilled from: a zoo model (with --teacher-path) or onnx:PATH (e.g. the ImageNet ResNet-18 featurizer).")]
    public string? Teacher { get; set; }

    /// <summary>--teacher-path.</summary>
    [CommandOption("--teacher-path <CKPT>"), Description("Weights of a zoo teacher.")]
    public string? TeacherPath { get; set; }

    /// <summary>--teacher-input-size.</summary>
    [CommandOption("--teacher-input-size <PX>"), Description("Image side the teacher gets (default: its own, else the data's); D's 32 px inputs are resized to it.")]
    public int? TeacherInputSize { get; set; }

    /// <summary>--teacher-normalize.</summary>
    [CommandOption("--teacher-normalize <MODE>"), Description("Teacher input normalisation: auto (default: imagenet for onnx:, data for zoo models), imagenet or data.")]
    public string? TeacherNormalize { get; set; }

    /// <summary>--teacher-norm.</summary>
    [CommandOption("--teacher-norm <NORM>"), Description("Normalisation of the teacher's features: whiten (ZCA, default), whiten_cholesky (W-MSE), layernorm or none.")]
    public string? TeacherNorm { get; set; }

    /// <summary>--whiten-shrinkage.</summary>
    [CommandOption("--whiten-shrinkage <S>"), Description("Whitening shrinkage towards (tr C / D) I (default 0.1; a batch of 50 cannot give a full-rank covariance of 512 features).")]
    public double? WhitenShrinkage { get; set; }

    /// <summary>--projector.</summary>
    [CommandOption("--projector <KIND>"), Description("Projector shared by the real and fake pairs: auto (default: orthogonal, PyTorch's map for the shape), matrix_exp, cayley, householder or linear.")]
    public string? Projector { get; set; }

    /// <summary>--distill-weight.</summary>
    [CommandOption("--distill-weight <W>"), Description("Weight of each of the two feature terms in D's loss (default 1).")]
    public double? DistillWeight { get; set; }

    /// <inheritdoc />
    public override GanRunOptions ToOptions()
    {
        var o = base.ToOptions();
        return o with
        {
            Teacher = Teacher ?? o.Teacher,
            TeacherPath = TeacherPath ?? o.TeacherPath,
            TeacherInputSize = TeacherInputSize ?? o.TeacherInputSize,
            TeacherNormalize = TeacherNormalize ?? o.TeacherNormalize,
            TeacherNorm = TeacherNorm ?? o.TeacherNorm,
            Shrinkage = WhitenShrinkage ?? o.Shrinkage,
            Projector = Projector ?? o.Projector,
            DistillWeight = DistillWeight ?? o.DistillWeight,
        };
    }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Teacher))
        {
            return ValidationResult.Error("vkd gan distill needs --teacher (a zoo model with --teacher-path, or onnx:PATH); vkd gan train trains without one.");
        }
        if (WhitenShrinkage is < 0 or > 1 || DistillWeight is < 0)
        {
            return ValidationResult.Error("--whiten-shrinkage must be in [0, 1] and --distill-weight >= 0.");
        }
        return base.Validate();
    }
}

/// <summary>Flags of <c>vkd gan eval</c>.</summary>
public sealed class GanEvalSettings : GanDataSettings
{
    /// <summary>--ckpt.</summary>
    [CommandOption("--ckpt <FILE>"), Description("model.pth or a training checkpoint of a GAN run.")]
    public string? Ckpt { get; set; }

    /// <summary>--ema.</summary>
    [CommandOption("--ema"), Description("Evaluate the checkpoint's EMA generator.")]
    public bool? Ema { get; set; }

    /// <summary>--output.</summary>
    [CommandOption("--output <JSON>"), Description("Also write the metrics to this JSON file.")]
    public string? Output { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        string.IsNullOrEmpty(Ckpt) ? ValidationResult.Error("--ckpt is required.")
        : base.Validate();
}

/// <summary>Flags of <c>vkd gan sample</c>.</summary>
public sealed class GanSampleSettings : CommandSettings
{
    /// <summary>--ckpt.</summary>
    [CommandOption("--ckpt <FILE>"), Description("model.pth or a training checkpoint of a GAN run.")]
    public string? Ckpt { get; set; }

    /// <summary>--out.</summary>
    [CommandOption("--out <PNG>"), Description("The grid to write (default grid.png).")]
    public string? Out { get; set; }

    /// <summary>--ema.</summary>
    [CommandOption("--ema"), Description("Sample the checkpoint's EMA generator.")]
    public bool? Ema { get; set; }

    /// <summary>--per-class.</summary>
    [CommandOption("--per-class <N>"), Description("Samples per class, one row per class (default 10).")]
    public int? PerClass { get; set; }

    /// <summary>--seed.</summary>
    [CommandOption("--seed <N>"), Description("Seed of the grid's noise (default 77, the training grids').")]
    public long? Seed { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        string.IsNullOrEmpty(Ckpt) ? ValidationResult.Error("--ckpt is required.")
        : PerClass is <= 0 ? ValidationResult.Error("--per-class must be positive.")
        : ValidationResult.Success();
}

