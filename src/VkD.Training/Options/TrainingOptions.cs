namespace VkD.Training.Options;

/// <summary>
/// Every knob of a training or distillation run, with the defaults of the reference's <c>main_distributed.py</c>
/// where the reference actually uses the value (see docs/cli.md for the flags it accepts but ignores).
/// Property names are the PascalCase form of the kebab-case flags (<c>--min-lr</c> is <see cref="MinLr"/>), which is
/// how config files and the resolved-config dump name them too.
/// </summary>
public sealed class TrainingOptions
{
    // ---- model and teacher ----

    /// <summary>Zoo name of the model to train (<c>--student-model</c> for distill, <c>--model</c> for train).</summary>
    public string StudentModel { get; set; } = "";

    /// <summary>Checkpoint to initialise the student from (<c>--student-ckpt</c>); empty for random init.</summary>
    public string StudentCkpt { get; set; } = "";

    /// <summary>Teacher spec (<c>--teacher</c>): a zoo model name, or a prefixed spec such as <c>onnx:PATH</c>.</summary>
    public string Teacher { get; set; } = "";

    /// <summary>Teacher weights (<c>--teacher-path</c>) for zoo teachers.</summary>
    public string TeacherPath { get; set; } = "";

    /// <summary>Arithmetic of a zoo teacher's forward (<c>--teacher-precision</c>): <c>fp32</c> (default) or <c>bf16</c>
    /// (weights and activations in bfloat16, outputs returned in float32; several times faster where the CPU multiplies
    /// bf16 natively, within bf16 rounding of the fp32 features).</summary>
    public string TeacherPrecision { get; set; } = "fp32";

    /// <summary>Fold a zoo CNN teacher's eval BatchNorms into its convolutions (<c>--teacher-fold-bn</c>): <c>on</c>
    /// (default; the same outputs within float32 rounding, one pass per conv instead of two) or <c>off</c> (the
    /// unfolded forward, bit for bit as before). Teachers without conv → BatchNorm pairs (ViTs, ONNX) are not affected.</summary>
    public string TeacherFoldBn { get; set; } = "on";

    /// <summary>Run a zoo CNN teacher in channels-last memory format (<c>--teacher-channels-last</c>): <c>on</c>
    /// (default; conv weights and input images NHWC-strided, the outputs equal within float32 rounding) or <c>off</c>.</summary>
    public string TeacherChannelsLast { get; set; } = "on";

    /// <summary>Smallest area share of the random-resized crop (<c>--scale-min</c>, timm's <c>--scale</c> low end).
    /// Applies to images larger than 32 px (the crop recipe).</summary>
    public double ScaleMin { get; set; } = 0.08;

    /// <summary>Largest area share of the random-resized crop (<c>--scale-max</c>).</summary>
    public double ScaleMax { get; set; } = 1.0;

    /// <summary>Leave out 3-Augment (grayscale | solarize | blur) from the crop recipe (<c>--no-three-augment</c>).</summary>
    public bool NoThreeAugment { get; set; }

    /// <summary>Folder of the teacher-output cache (<c>--teacher-cache</c>; empty: none). Each image gets
    /// <see cref="TeacherCacheDraws"/> augmentations cycled by epoch; the teacher's logits and pooled features for each
    /// are recorded the first time and replayed afterwards, so from epoch K on the teacher is not run.</summary>
    public string TeacherCache { get; set; } = "";

    /// <summary>Augmentations per image the cache records (<c>--teacher-cache-draws</c>, K).</summary>
    public int TeacherCacheDraws { get; set; } = 2;

    /// <summary>How the cache stores the teacher's outputs (<c>--teacher-cache-dtype</c>): <c>bf16</c> (default, half
    /// the size) or <c>fp32</c> (the teacher's numbers exactly). Recorded and replayed steps both see the stored values.</summary>
    public string TeacherCacheDtype { get; set; } = "bf16";

    /// <summary>Stochastic depth rate of the student (<c>--drop-path</c>). The reference accepts it but never passes it.</summary>
    public double DropPath { get; set; }

    // ---- data ----

    /// <summary>Dataset root (<c>--data-path</c>).</summary>
    public string DataPath { get; set; } = "";

    /// <summary>Dataset kind (<c>--data-set</c>): see VkD.Data's dataset spec.</summary>
    public string DataSet { get; set; } = "auto";

    /// <summary>Side of the square network input (<c>--input-size</c>); 0 means the dataset's native size.</summary>
    public int InputSize { get; set; }

    /// <summary>Images per optimiser step (<c>--batch-size</c>).</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>Loader worker threads (<c>--num-workers</c>); results do not depend on it.</summary>
    public int NumWorkers { get; set; } = 2;

    /// <summary>Use N training images, class-balanced and drawn with <see cref="Seed"/> (0 = all).</summary>
    public int TrainSubset { get; set; }

    /// <summary>Use N evaluation images, class-balanced, the same for every seed (0 = all).</summary>
    public int EvalSubset { get; set; }

    /// <summary>Per-channel mean on the [0, 1] scale that overrides the dataset's default normalisation (set by
    /// <c>vkd eval</c> from what a checkpoint recorded); null: the dataset's.</summary>
    public IReadOnlyList<double>? NormalizationMean { get; set; }

    /// <summary>Per-channel std paired with <see cref="NormalizationMean"/>.</summary>
    public IReadOnlyList<double>? NormalizationStd { get; set; }

    /// <summary>Image side the teacher gets (<c>--teacher-input-size</c>); 0 = the teacher's own (an ONNX model's fixed
    /// input, the size recorded in a VkD.NET teacher checkpoint), else the student's.</summary>
    public int TeacherInputSize { get; set; }

    /// <summary>Leave out image files that fail the pre-flight check and substitute (training) or drop (evaluation)
    /// any that fail to decode later (<c>--skip-bad-images</c>); without it a bad file stops the run with its name.</summary>
    public bool SkipBadImages { get; set; }

    /// <summary>Skip the pre-flight check of image files (<c>--no-image-check</c>).</summary>
    public bool NoImageCheck { get; set; }

    // ---- loss ----

    /// <summary>Weight of the feature (representation) loss (<c>--alpha</c>).</summary>
    public double Alpha { get; set; } = 1.0;

    /// <summary>Weight of the logit KD loss (<c>--gamma</c>).</summary>
    public double Gamma { get; set; } = 1.0;

    /// <summary>KD temperature (<c>--temperature</c>); the reference hard-codes T = 1.</summary>
    public double Temperature { get; set; } = 1.0;

    /// <summary>Label smoothing (<c>--smoothing</c>).</summary>
    public double Smoothing { get; set; } = 0.1;

    /// <summary>Projector kind (<c>--projector</c>): householder, matrix_exp, cayley, auto, scaled (orthogonal W with a per-channel scale and bias) or linear.</summary>
    public string Projector { get; set; } = "householder";

    /// <summary>Teacher-feature normalisation (<c>--norm</c>): layernorm, batchstd, whiten or none.</summary>
    public string Norm { get; set; } = "layernorm";

    /// <summary>Put the projector back into weight decay as the released code does (<c>--released-projector-decay</c>).</summary>
    public bool ReleasedProjectorDecay { get; set; }

    /// <summary>Distillation method (<c>--distill-method</c>): <c>vkd</c> (the orthogonal projector and normalisation
    /// above, the default), <c>kd</c>, <c>dkd</c>, <c>dist</c>, <c>fitnet</c>, <c>at</c>, <c>rkd</c>, <c>pkt</c>,
    /// <c>crd</c> or <c>srd</c>, each at its published defaults (see docs/distillation.md, "Methods").</summary>
    public string DistillMethod { get; set; } = "vkd";

    /// <summary>The method's hyper-parameters (<c>--method-options</c>) as <c>key=value</c> pairs separated by commas,
    /// e.g. <c>k=4096,weight=0.8</c>; empty: the published defaults.</summary>
    public string MethodOptions { get; set; } = "";

    /// <summary>Student module paths a method distils (<c>--student-taps</c>), comma-separated (<c>layer1,layer2</c>,
    /// <c>blocks.5</c>); empty: the method's defaults for the model's family.</summary>
    public string StudentTaps { get; set; } = "";

    /// <summary>Teacher module paths (<c>--teacher-taps</c>), paired with <see cref="StudentTaps"/> in order; a zoo
    /// teacher only.</summary>
    public string TeacherTaps { get; set; } = "";

    // ---- mixup / cutmix ----

    /// <summary>Mixup alpha (<c>--mixup</c>); 0 disables.</summary>
    public double Mixup { get; set; } = 0.8;

    /// <summary>CutMix alpha (<c>--cutmix</c>); 0 disables.</summary>
    public double Cutmix { get; set; } = 1.0;

    /// <summary>Probability of applying mixup or cutmix to a batch (<c>--mixup-prob</c>).</summary>
    public double MixupProb { get; set; } = 1.0;

    /// <summary>Probability of cutmix instead of mixup when both are on (<c>--mixup-switch-prob</c>).</summary>
    public double MixupSwitchProb { get; set; } = 0.5;

    // ---- optimisation ----

    /// <summary>Epochs (<c>--epochs</c>).</summary>
    public int Epochs { get; set; } = 300;

    /// <summary>Peak learning rate (<c>--lr</c>). Used as given; the reference ignores it and runs at 5e-4.</summary>
    public double Lr { get; set; } = 5e-4;

    /// <summary>Final learning rate of the cosine (<c>--min-lr</c>); the reference's effective value is 5e-6.</summary>
    public double MinLr { get; set; } = 5e-6;

    /// <summary>Warmup epochs (<c>--warmup-epochs</c>); the reference's effective value is 0.</summary>
    public double WarmupEpochs { get; set; }

    /// <summary>Learning rate at the start of warmup (<c>--warmup-lr</c>).</summary>
    public double WarmupLr { get; set; } = 5e-6;

    /// <summary>AdamW decoupled weight decay (<c>--weight-decay</c>).</summary>
    public double WeightDecay { get; set; } = 0.05;

    /// <summary>Max global gradient norm (<c>--clip-grad</c>); 0 or negative disables clipping.</summary>
    public double ClipGrad { get; set; }

    /// <summary>AdamW epsilon (<c>--opt-eps</c>).</summary>
    public double OptEps { get; set; } = 1e-8;

    /// <summary>Optimiser (<c>--opt</c>): <c>adamw</c> (the reference's), <c>sgd</c> (Nesterov momentum, timm's
    /// <c>sgd</c>) or <c>momentum</c> (plain momentum).</summary>
    public string Opt { get; set; } = "adamw";

    /// <summary>SGD momentum (<c>--momentum</c>).</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>Keep an EMA copy of the student (<c>--student-ema</c>).</summary>
    public bool StudentEma { get; set; }

    /// <summary>Start of the EMA momentum schedule, which rises linearly to 1.0 per iteration (<c>--student-ema-decay</c>).</summary>
    public double StudentEmaDecay { get; set; } = 0.996;

    /// <summary>Seed of everything random in the run (<c>--seed</c>).</summary>
    public int Seed { get; set; }

    // ---- output ----

    /// <summary>Output folder (<c>--output-dir</c> / <c>--output_dir</c>); empty means no files are written.</summary>
    public string OutputDir { get; set; } = "";

    /// <summary>Checkpoint to resume from (<c>--resume</c>); <c>auto</c> picks the newest in the output folder.</summary>
    public string Resume { get; set; } = "";

    /// <summary>Evaluate every N epochs (<c>--eval-every</c>); the last epoch is always evaluated.</summary>
    public int EvalEvery { get; set; } = 1;

    /// <summary>Keep a numbered checkpoint every N epochs (<c>--save-every</c>; the reference uses 20).</summary>
    public int SaveEvery { get; set; } = 20;

    /// <summary>Write a mid-epoch checkpoint every N iterations (<c>--save-every-iters</c>); 0 disables.</summary>
    public int SaveEveryIters { get; set; }

    /// <summary>Intra-op threads (<c>--threads</c>); 0 keeps TorchSharp's default. Results are deterministic per thread count.</summary>
    public int Threads { get; set; }

    /// <summary>Device every module and tensor of the run goes to: <c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>When the learning rate changes: <c>iteration</c> (every step, the reference's DeiT recipe) or
    /// <c>epoch</c> (at epoch boundaries, timm's default).</summary>
    public string ScheduleUnit { get; set; } = "iteration";

    /// <summary>Epochs the per-epoch rate lags behind the cosine (0, the default, for none). ViDT's recipe uses 1: its
    /// <c>main.py</c> steps the scheduler at the end of each epoch (<see cref="Optim.LearningRateSchedule"/>). Not a
    /// flag of the classification commands; the detection commands set it.</summary>
    public int ScheduleLagEpochs { get; set; }

    /// <summary>Returns a shallow copy, so callers can vary a few fields (the quickstart's three variants).</summary>
    public TrainingOptions Clone() => (TrainingOptions)MemberwiseClone();

    /// <summary>True when the mixup/cutmix batch transform is active (as the reference's <c>mixup_active</c>).</summary>
    public bool MixupActive => Mixup > 0 || Cutmix > 0;
}
