using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace VkD.Cli.Commands;

/// <summary>Flags of <c>vkd distill</c>: the shared training flags plus teacher, student and loss.</summary>
public sealed class DistillSettings : TrainingSettings
{
    /// <summary>--teacher.</summary>
    [CommandOption("--teacher <MODEL>"), Description("Teacher: a zoo model name (with --teacher-path), or onnx:PATH.")]
    public string? Teacher { get; set; }

    /// <summary>--teacher-path.</summary>
    [CommandOption("--teacher-path <CKPT>"), Description("Teacher weights (.pth/.pth.tar/.safetensors; 'model'/'student' wrappers are unwrapped).")]
    public string? TeacherPath { get; set; }

    /// <summary>--teacher-input-size.</summary>
    [CommandOption("--teacher-input-size <N>"), Description("Image side the teacher gets: the same augmented crop at N px (default: the teacher's own size, e.g. an ONNX model's fixed input or the size its VkD.NET checkpoint was trained at; else the student's).")]
    public int? TeacherInputSize { get; set; }

    /// <summary>--teacher-runtime.</summary>
    [CommandOption("--teacher-runtime <RUNTIME>"), Description("torch (default) or onnx: run a zoo teacher through ONNX Runtime (same as --teacher ort:MODEL; faster on CPU, see docs/benchmarks.md).")]
    public string? TeacherRuntime { get; set; }

    /// <summary>--student-model.</summary>
    [CommandOption("--student-model <MODEL>"), Description("Student zoo model name.")]
    public string? StudentModel { get; set; }

    /// <summary>--student-ckpt.</summary>
    [CommandOption("--student-ckpt <CKPT>"), Description("Initialise the student from this checkpoint.")]
    public string? StudentCkpt { get; set; }

    /// <summary>--alpha.</summary>
    [CommandOption("--alpha <W>"), Description("Weight of the feature (VkD) loss (default 1.0; 0 disables).")]
    public double? Alpha { get; set; }

    /// <summary>--gamma.</summary>
    [CommandOption("--gamma <W>"), Description("Weight of the logit KD loss (default 1.0; 0 disables).")]
    public double? Gamma { get; set; }

    /// <summary>--temperature.</summary>
    [CommandOption("--temperature <T>"), Description("KD temperature (default 1, the reference's fixed value).")]
    public double? Temperature { get; set; }

    /// <summary>--teacher-precision.</summary>
    [CommandOption("--teacher-precision <P>"), Description("fp32 (default) or bf16: run a zoo teacher in bfloat16 (outputs stay float32; faster where the CPU has AVX512-BF16/AMX, see docs/benchmarks.md).")]
    public string? TeacherPrecision { get; set; }

    /// <summary>--teacher-fold-bn.</summary>
    [CommandOption("--teacher-fold-bn <ON_OFF>"), Description("on (default) or off: fold a zoo CNN teacher's eval BatchNorms into its convolutions (same outputs within float32 rounding, a faster forward, see docs/benchmarks.md); off runs the unfolded forward.")]
    public string? TeacherFoldBn { get; set; }

    /// <summary>--teacher-channels-last.</summary>
    [CommandOption("--teacher-channels-last <ON_OFF>"), Description("on (default) or off: run a zoo CNN teacher's convs in channels-last memory format (same outputs within float32 rounding, a faster forward, see docs/benchmarks.md).")]
    public string? TeacherChannelsLast { get; set; }

    /// <summary>--teacher-cache.</summary>
    [CommandOption("--teacher-cache <DIR>"), Description("Record the teacher's logits and pooled features for K augmentations of each image in DIR and replay them: from epoch K on the teacher is not run (docs/distillation.md). Needs --mixup 0 --cutmix 0.")]
    public string? TeacherCache { get; set; }

    /// <summary>--teacher-cache-draws.</summary>
    [CommandOption("--teacher-cache-draws <K>"), Description("Augmentations per image the teacher cache records, cycled by epoch (default 2).")]
    public int? TeacherCacheDraws { get; set; }

    /// <summary>--teacher-cache-dtype.</summary>
    [CommandOption("--teacher-cache-dtype <T>"), Description("bf16 (default, half the size) or fp32 (the teacher's numbers exactly).")]
    public string? TeacherCacheDtype { get; set; }

    /// <summary>--projector.</summary>
    [CommandOption("--projector <KIND>"), Description("householder (default), matrix_exp, cayley, scaled (orthogonal W with a learnable per-channel scale and bias, ViDT's OrthogonalLinear), or linear (plain, non-orthogonal baseline).")]
    public string? Projector { get; set; }

    /// <summary>--norm.</summary>
    [CommandOption("--norm <KIND>"), Description("Teacher-feature normalisation: layernorm (default), batchstd, whiten, none.")]
    public string? Norm { get; set; }

    /// <summary>--released-projector-decay.</summary>
    [CommandOption("--released-projector-decay"), Description("Compatibility mode: projector in weight decay with the released int-cast Householder (collapses W to 0).")]
    public bool? ReleasedProjectorDecay { get; set; }

    /// <summary>--distill-method.</summary>
    [CommandOption("--distill-method <METHOD>"), Description("vkd (default: orthogonal projector + normalisation), kd, dkd, dist, fitnet, at, rkd, pkt, crd or srd, each at its published defaults.")]
    public string? DistillMethod { get; set; }

    /// <summary>--method-options.</summary>
    [CommandOption("--method-options <K=V,...>"), Description("The method's hyper-parameters, e.g. 'k=4096,weight=0.8' for crd (docs/cli.md lists them).")]
    public string? MethodOptions { get; set; }

    /// <summary>--student-taps.</summary>
    [CommandOption("--student-taps <PATHS>"), Description("Student module paths the method distils, comma-separated (layer1,layer2; blocks.5); default: per model family.")]
    public string? StudentTaps { get; set; }

    /// <summary>--teacher-taps.</summary>
    [CommandOption("--teacher-taps <PATHS>"), Description("Teacher module paths, paired with --student-taps in order (zoo teachers).")]
    public string? TeacherTaps { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        var baseResult = base.Validate();
        if (!baseResult.Successful)
        {
            return baseResult;
        }
        if (Alpha is < 0 || Gamma is < 0)
        {
            return ValidationResult.Error("--alpha and --gamma must be >= 0.");
        }
        if (Temperature is <= 0)
        {
            return ValidationResult.Error($"--temperature must be > 0, got {Temperature}.");
        }
        var projectors = VkD.Distillation.Projectors.ProjectorFactory.Names;
        if (Projector is not null && !projectors.Contains(Projector))
        {
            return ValidationResult.Error($"--projector {Projector} is unknown; use one of {string.Join(", ", projectors)}.");
        }
        if (DistillMethod is not null && !VkD.Distillation.Methods.DistillationMethods.Names.Contains(DistillMethod.ToLowerInvariant()))
        {
            return ValidationResult.Error($"--distill-method {DistillMethod} is unknown; use one of {string.Join(", ", VkD.Distillation.Methods.DistillationMethods.Names)}.");
        }
        string[] norms = ["layernorm", "batchstd", "whiten", "whiten_zca", "none"];
        if (Norm is not null && !norms.Contains(Norm))
        {
            return ValidationResult.Error($"--norm {Norm} is unknown; use one of {string.Join(", ", norms)}.");
        }
        return ValidationResult.Success();
    }
}

/// <summary>Flags of <c>vkd train</c>: the shared training flags plus the model.</summary>
public sealed class TrainSettings : TrainingSettings
{
    /// <summary>--model.</summary>
    [CommandOption("--model|--student-model <MODEL>"), Description("Zoo model name to train.")]
    public string? StudentModel { get; set; }

    /// <summary>--student-ckpt.</summary>
    [CommandOption("--init-ckpt|--student-ckpt <CKPT>"), Description("Initialise the model from this checkpoint (fine-tuning).")]
    public string? StudentCkpt { get; set; }

    /// <summary>--teacher: accepted as a config file's teacher is, with a warning, so one command line or config
    /// serves both commands.</summary>
    [CommandOption("--teacher <MODEL>"), Description("No effect in vkd train (it trains without a teacher); accepted with a warning so a distill command line can be reused.")]
    public string? Teacher { get; set; }

    /// <summary>--teacher-path, accepted and ignored like <see cref="Teacher"/>.</summary>
    [CommandOption("--teacher-path <CKPT>"), Description("No effect in vkd train; accepted with a warning.")]
    public string? TeacherPath { get; set; }
}
