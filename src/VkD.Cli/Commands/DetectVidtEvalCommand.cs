using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Cli.Infrastructure;
using VkD.Detection.Evaluation;
using VkD.Detection.Models;

namespace VkD.Cli.Commands;

/// <summary>ViDT's flags that describe the model (<c>arguments.py</c>), shared by <c>vkd detect eval</c> and
/// <c>vkd detect predict</c>. Booleans take ViDT's <c>True</c>/<c>False</c> values; a flag left out is read from the
/// checkpoint's shapes.</summary>
public class DetectVidtModelSettings : CommandSettings
{
    /// <summary>--resume.</summary>
    [CommandOption("--resume <CKPT>"), Description("ViDT checkpoint: ViDT's release layout (model, optimizer, epoch, args) or a bare state dict.")]
    public string? Resume { get; init; }

    /// <summary>--method.</summary>
    [CommandOption("--method <METHOD>"), Description("vidt (the only method built here; ViDT's default).")]
    public string? Method { get; init; }

    /// <summary>--backbone_name.</summary>
    [CommandOption("--backbone_name <NAME>"), Description("swin_nano, swin_tiny, swin_small or swin_base_win7_22k (default: the checkpoint's).")]
    public string? BackboneName { get; init; }

    /// <summary>--det_token_num.</summary>
    [CommandOption("--det_token_num <N>"), Description("[[DET]] tokens (default: the checkpoint's).")]
    public int? DetTokenNum { get; init; }

    /// <summary>--with_box_refine.</summary>
    [CommandOption("--with_box_refine <BOOL>"), Description("True/False: iterative box refinement (default: what the checkpoint holds).")]
    public string? WithBoxRefine { get; init; }

    /// <summary>--aux_loss.</summary>
    [CommandOption("--aux_loss <BOOL>"), Description("Accepted (True/False): the auxiliary outputs are always computed; evaluation uses the last.")]
    public string? AuxLoss { get; init; }

    /// <summary>--reduced_dim.</summary>
    [CommandOption("--reduced_dim <N>"), Description("Neck/decoder width (default: the checkpoint's).")]
    public int? ReducedDim { get; init; }

    /// <summary>--pos_dim.</summary>
    [CommandOption("--pos_dim <N>"), Description("[[DET]] position width; ViDT requires it equal to --reduced_dim.")]
    public int? PosDim { get; init; }

    /// <summary>--dec_layers.</summary>
    [CommandOption("--dec_layers <N>"), Description("Decoder layers (default: the checkpoint's).")]
    public int? DecLayers { get; init; }

    /// <summary>--dim_feedforward.</summary>
    [CommandOption("--dim_feedforward <N>"), Description("Decoder FFN width (default: the checkpoint's).")]
    public int? DimFeedforward { get; init; }

    /// <summary>--nheads.</summary>
    [CommandOption("--nheads <N>"), Description("Decoder attention heads (default 8).")]
    public int? NHeads { get; init; }

    /// <summary>--dec_n_points.</summary>
    [CommandOption("--dec_n_points <N>"), Description("Deformable sampling points per head and level (default 4).")]
    public int? DecNPoints { get; init; }

    /// <summary>--num_feature_levels.</summary>
    [CommandOption("--num_feature_levels <N>"), Description("Accepted: ViDT uses the backbone's 4 levels.")]
    public int? NumFeatureLevels { get; init; }

    /// <summary>--dropout.</summary>
    [CommandOption("--dropout <P>"), Description("Accepted (no effect in evaluation).")]
    public double? Dropout { get; init; }

    /// <summary>--pre_trained.</summary>
    [CommandOption("--pre_trained <PATH>"), Description("Accepted: the --resume weights replace any backbone initialisation (ViDT's evaluation passes none).")]
    public string? PreTrained { get; init; }

    /// <summary>--dataset_file.</summary>
    [CommandOption("--dataset_file <NAME>"), Description("coco (ViDT's default).")]
    public string? DatasetFile { get; init; }

    /// <summary>--eval_size.</summary>
    [CommandOption("--eval_size <PX>"), Description("Shortest side of the val resize (default 800; longest capped at size*1333/800).")]
    public int? EvalSize { get; init; }

    /// <summary>--device.</summary>
    [CommandOption("--device <DEVICE>"), Description("cpu (default here; ViDT's default is cuda), cuda or cuda:N.")]
    public string? Device { get; init; }

    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>"), Description("Intra-op CPU threads (0 = default).")]
    public int? Threads { get; init; }

    /// <summary>ViDT+ switches, accepted only off.</summary>
    [CommandOption("--epff <BOOL>", IsHidden = true)]
    public string? Epff { get; init; }

    /// <summary>ViDT+ switch.</summary>
    [CommandOption("--with_vector <BOOL>", IsHidden = true)]
    public string? WithVector { get; init; }

    /// <summary>ViDT+ switch.</summary>
    [CommandOption("--iou_aware <BOOL>", IsHidden = true)]
    public string? IouAware { get; init; }

    /// <summary>ViDT+ switch.</summary>
    [CommandOption("--token_label <BOOL>", IsHidden = true)]
    public string? TokenLabel { get; init; }

    /// <summary>ViDT+ segmentation switch (a flag in ViDT).</summary>
    [CommandOption("--masks", IsHidden = true)]
    public bool? Masks { get; init; }

    /// <summary>torch.distributed.launch flags: answered with an explanation.</summary>
    [CommandOption("--nproc_per_node <N>", IsHidden = true)]
    public string? NprocPerNode { get; init; }

    /// <summary>torch.distributed.launch flag.</summary>
    [CommandOption("--nnodes <N>", IsHidden = true)]
    public string? Nnodes { get; init; }

    /// <summary>torch.distributed.launch flag.</summary>
    [CommandOption("--node_rank <N>", IsHidden = true)]
    public string? NodeRank { get; init; }

    /// <summary>torch.distributed.launch flag.</summary>
    [CommandOption("--master_addr <HOST>", IsHidden = true)]
    public string? MasterAddr { get; init; }

    /// <summary>torch.distributed.launch flag.</summary>
    [CommandOption("--master_port <PORT>", IsHidden = true)]
    public string? MasterPort { get; init; }

    /// <summary>torch.distributed.launch flag.</summary>
    [CommandOption("--use_env", IsHidden = true)]
    public bool? UseEnv { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        var launcher = new (string Flag, bool Given)[]
        {
            ("--nproc_per_node", NprocPerNode is not null), ("--nnodes", Nnodes is not null), ("--node_rank", NodeRank is not null),
            ("--master_addr", MasterAddr is not null), ("--master_port", MasterPort is not null), ("--use_env", UseEnv is not null),
        }.Where(f => f.Given).Select(f => f.Flag).ToList();
        if (launcher.Count > 0)
        {
            return ValidationResult.Error($"{string.Join(", ", launcher)}: {(launcher.Count == 1 ? "a flag" : "flags")} of torch.distributed.launch, not of ViDT's main.py. " +
                "vkd runs in one process (no torch.distributed; use --threads for CPU threads): drop 'python -m torch.distributed.launch ... main.py' and its flags, keep ViDT's own.");
        }
        foreach (var (flag, value) in new[] { ("--with_box_refine", WithBoxRefine), ("--aux_loss", AuxLoss), ("--epff", Epff), ("--with_vector", WithVector), ("--iou_aware", IouAware), ("--token_label", TokenLabel) })
        {
            if (value is not null && ParseBool(value) is null)
            {
                return ValidationResult.Error($"{flag} takes True or False (as in ViDT), got '{value}'.");
            }
        }
        foreach (var (flag, value) in new[] { ("--epff", Epff), ("--with_vector", WithVector), ("--iou_aware", IouAware), ("--token_label", TokenLabel) })
        {
            if (value is not null && ParseBool(value) == true)
            {
                return ValidationResult.Error($"{flag} True is a ViDT+ extra, which VkD.NET does not build (ViDT as VkD distills it: --aux_loss, --with_box_refine only).");
            }
        }
        if (Masks == true)
        {
            return ValidationResult.Error("--masks (ViDT+ segmentation) is not built here; evaluation is COCO bbox only.");
        }
        if (Method is not null and not "vidt")
        {
            return ValidationResult.Error($"--method {Method} is not built here: only ViDT with its neck (--method vidt).");
        }
        if (DatasetFile is not null and not "coco")
        {
            return ValidationResult.Error($"--dataset_file {DatasetFile}: only coco (--coco_path, COCO's layout or vkd data make-detection's).");
        }
        if (BackboneName is not null)
        {
            try
            {
                VidtCheckpoint.BackboneByName(BackboneName);
            }
            catch (ArgumentException e)
            {
                return ValidationResult.Error(e.Message);
            }
        }
        foreach (var (flag, value) in new[] { ("--det_token_num", DetTokenNum), ("--reduced_dim", ReducedDim), ("--pos_dim", PosDim), ("--dec_layers", DecLayers),
                     ("--dim_feedforward", DimFeedforward), ("--nheads", NHeads), ("--dec_n_points", DecNPoints), ("--eval_size", EvalSize) })
        {
            if (value is <= 0)
            {
                return ValidationResult.Error($"{flag} must be positive, got {value}.");
            }
        }
        if (NumFeatureLevels is not null and not 4)
        {
            return ValidationResult.Error($"--num_feature_levels {NumFeatureLevels}: ViDT's Swin gives 4 levels.");
        }
        if (ReducedDim is { } r && PosDim is { } p && r != p)
        {
            return ValidationResult.Error($"--pos_dim ({p}) must equal --reduced_dim ({r}), as in ViDT.");
        }
        if (Threads is < 0)
        {
            return ValidationResult.Error($"--threads must be 0 or positive, got {Threads}.");
        }
        if (Dropout is { } d && (double.IsNaN(d) || d is < 0 or >= 1))
        {
            return ValidationResult.Error($"--dropout must be in [0, 1), got {d}.");
        }
        return ValidationResult.Success();
    }

    /// <summary>ViDT's <c>str(x).lower() == 'true'</c>, strict: true, false or null for anything else.</summary>
    public static bool? ParseBool(string value) => value.ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => null,
    };

    /// <summary>The model the flags ask for: null when no model flag is given (the checkpoint's layout is used), else
    /// the checkpoint's layout overridden by every flag given (a flag that contradicts the checkpoint then fails the
    /// load with the key and shape).</summary>
    public VidtConfig? ResolveConfig(string checkpointPath)
    {
        if (BackboneName is null && DetTokenNum is null && WithBoxRefine is null && ReducedDim is null && PosDim is null && DecLayers is null && DimFeedforward is null)
        {
            return null;
        }
        var layout = VidtCheckpoint.Inspect(checkpointPath);
        var config = layout.ToConfig(NHeads ?? 8, DecNPoints ?? 4);
        var backbone = config.Backbone;
        if (BackboneName is not null)
        {
            backbone = VidtCheckpoint.BackboneByName(BackboneName) with { DetTokenNum = backbone.DetTokenNum, PosDim = backbone.PosDim, NeckDim = backbone.NeckDim };
        }
        backbone = backbone with
        {
            DetTokenNum = DetTokenNum ?? backbone.DetTokenNum,
            PosDim = PosDim ?? ReducedDim ?? backbone.PosDim,
        };
        return config with
        {
            Backbone = backbone,
            HiddenDim = ReducedDim ?? PosDim ?? config.HiddenDim,
            DecLayers = DecLayers ?? config.DecLayers,
            DimFeedforward = DimFeedforward ?? config.DimFeedforward,
            WithBoxRefine = WithBoxRefine is { } refine ? ParseBool(refine)!.Value : config.WithBoxRefine,
        };
    }

    /// <summary>Applies --threads.</summary>
    public void ApplyThreads()
    {
        if (Threads is > 0)
        {
            TorchSharp.torch.set_num_threads(Threads.Value);
        }
    }
}

/// <summary>
/// <c>vkd detect eval</c>: with <c>--resume</c>, ViDT's evaluation (<c>main.py --eval True</c>) of a checkpoint on a
/// COCO folder, printing pycocotools' 12 lines and writing the results and stats JSON; with <c>--results</c>, the COCO
/// evaluation of a results file (<see cref="DetectEvalCommand"/>).
/// </summary>
public sealed class DetectVidtEvalCommand : Command<DetectVidtEvalCommand.Settings>
{
    /// <summary>Options of <c>vkd detect eval</c>: ViDT's flags, plus the results-file mode's.</summary>
    public sealed class Settings : DetectVidtModelSettings
    {
        /// <summary>--coco_path.</summary>
        [CommandOption("--coco_path|--coco-path <DIR>"), Description("Dataset folder: COCO's (annotations/instances_val2017.json, val2017/) or vkd data make-detection's (annotations.json).")]
        public string? CocoPath { get; init; }

        /// <summary>--coco-gt.</summary>
        [CommandOption("--coco-gt <PATH>"), Description("Ground-truth JSON (results mode; with --resume: instead of the one under --coco_path, images relative to --coco_path).")]
        public string? GroundTruth { get; init; }

        /// <summary>--results.</summary>
        [CommandOption("--results <PATH>"), Description("Results mode: evaluate this COCO results JSON instead of running a model.")]
        public string? Results { get; init; }

        /// <summary>--batch_size.</summary>
        [CommandOption("--batch_size|--batch-size <N>"), Description("Images per padded batch (default 2, as ViDT's evaluation per GPU).")]
        public int? BatchSize { get; init; }

        /// <summary>--num_workers.</summary>
        [CommandOption("--num_workers|--num-workers <N>"), Description("Accepted: the next batch is decoded while the model runs.")]
        public int? NumWorkers { get; init; }

        /// <summary>--eval.</summary>
        [CommandOption("--eval <BOOL>"), Description("Accepted as in ViDT (True: evaluation is what this command does).")]
        public string? Eval { get; init; }

        /// <summary>--output_dir.</summary>
        [CommandOption("--output_dir <DIR>"), Description("Folder for coco_results.json and coco_stats.json (default: the current folder).")]
        public string? OutputDir { get; init; }

        /// <summary>--results-json.</summary>
        [CommandOption("--results-json <PATH>"), Description("Where the detections go (default <output_dir>/coco_results.json).")]
        public string? ResultsJson { get; init; }

        /// <summary>--stats-json.</summary>
        [CommandOption("--stats-json <PATH>"), Description("Where the 12 numbers go as JSON (default with --resume: <output_dir>/coco_stats.json).")]
        public string? StatsJson { get; init; }

        /// <summary>--per-category.</summary>
        [CommandOption("--per-category"), Description("Also print AP@[[.5:.95]] of every category (-1: no ground truth).")]
        public bool PerCategory { get; init; }

        /// <summary>--eval-subset.</summary>
        [CommandOption("--eval-subset <N>"), Description("Only the first N images in id order (0 = all).")]
        public int? EvalSubset { get; init; }

        /// <summary>--seed (accepted: evaluation draws nothing at random).</summary>
        [CommandOption("--seed <N>", IsHidden = true)]
        public int? Seed { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            var common = base.Validate();
            if (!common.Successful)
            {
                return common;
            }
            if (Eval is not null && ParseBool(Eval) is null)
            {
                return ValidationResult.Error($"--eval takes True or False (as in ViDT), got '{Eval}'.");
            }
            if (Resume is not null && Results is not null)
            {
                return ValidationResult.Error("Give either --resume (run a ViDT checkpoint) or --results (evaluate a results JSON), not both.");
            }
            if (Resume is null)
            {
                if (Results is null)
                {
                    return ValidationResult.Error("Pass --resume <checkpoint> with --coco_path <dir> to evaluate a ViDT checkpoint, or --coco-gt <json> with --results <json> to evaluate a results file.");
                }
                if (GroundTruth is null && CocoPath is null)
                {
                    return ValidationResult.Error("--results needs the ground truth: --coco-gt <json> (or --coco_path <dir>).");
                }
                return ValidationResult.Success();
            }
            if (CocoPath is null)
            {
                return ValidationResult.Error("--resume needs the dataset: --coco_path <dir>.");
            }
            if (BatchSize is <= 0)
            {
                return ValidationResult.Error($"--batch_size must be positive, got {BatchSize}.");
            }
            if (EvalSubset is < 0)
            {
                return ValidationResult.Error($"--eval-subset must be 0 or positive, got {EvalSubset}.");
            }
            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Resume is null)
        {
            var groundTruth = settings.GroundTruth ?? VidtEvaluation.ResolveDataset(settings.CocoPath!).AnnotationsPath;
            var legacy = new DetectEvalCommand.Settings
            {
                GroundTruth = groundTruth,
                Results = settings.Results!,
                StatsJson = settings.StatsJson,
                PerCategory = settings.PerCategory,
            };
            return DetectEvalCommand.Run(legacy, CliConsole.Current.Profile.Out.Writer, Console.Error);
        }
        return RunModel(settings, cancellationToken);
    }

    private static int RunModel(Settings s, CancellationToken cancellationToken)
    {
        s.ApplyThreads();
        var outputDir = s.OutputDir ?? ".";
        var options = new VidtEvaluationOptions
        {
            CheckpointPath = s.Resume!,
            CocoPath = s.CocoPath!,
            AnnotationsPath = s.GroundTruth,
            EvalSize = s.EvalSize ?? 800,
            BatchSize = s.BatchSize ?? 2,
            MaxImages = s.EvalSubset ?? 0,
            NHeads = s.NHeads ?? 8,
            DecNPoints = s.DecNPoints ?? 4,
            ResultsPath = s.ResultsJson ?? Path.Combine(outputDir, "coco_results.json"),
            StatsPath = s.StatsJson ?? Path.Combine(outputDir, "coco_stats.json"),
            Device = s.Device ?? "cpu",
        };
        // Paths first, so a typo is reported before the checkpoint is read.
        options.Validate();
        options = options with { Config = s.ResolveConfig(options.CheckpointPath) };
        var (annotations, imageRoot) = VidtEvaluation.ResolveDataset(options.CocoPath, options.AnnotationsPath);
        CliConsole.Line($"ViDT eval: {options.CheckpointPath}{(options.Config is null ? "" : $" ({Describe(options.Config)})")}, {annotations}, images in {imageRoot}, " +
            string.Create(CultureInfo.InvariantCulture, $"eval size {options.EvalSize}, batch {options.BatchSize}, {TorchSharp.torch.get_num_threads()} threads"));
        var result = DetectVidtProgress.Run("ViDT eval", report => VidtEvaluation.Run(options, report, cancellationToken));
        CliConsole.Line($"model: {Describe(result.Config)}; checkpoint {result.Report.Describe()}");
        if (result.Ranks > 1)
        {
            CliConsole.Line($"predicted in shards of whole batches over {result.Ranks} ranks, detections gathered to rank 0 for the COCO evaluation");
        }
        CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
            $"{result.Images} images, {result.Detections.Count} detections in {result.InferenceSeconds:F1}s ({result.ImagesPerSecond:F2} img/s)"));
        foreach (var line in result.Evaluation.Summary)
        {
            CliConsole.Line(line.Line);
        }
        if (s.PerCategory)
        {
            var gt = CocoDataset.Load(result.AnnotationsPath);
            foreach (var category in gt.Categories.OrderBy(c => c.Id))
            {
                CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{category.Id,5}  {NumpyCompat.FormatFixed(result.Evaluation.CategoryAp(category.Id), 3),6}  {category.Name}"));
            }
        }
        CliConsole.Line($"wrote {options.ResultsPath} and {options.StatsPath}");
        return 0;
    }

    /// <summary>One line naming the model: backbone, [DET] tokens, classes, head layout.</summary>
    internal static string Describe(VidtConfig c) => string.Create(CultureInfo.InvariantCulture,
        $"{VidtCheckpoint.BackboneName(c.Backbone) ?? $"Swin C={c.Backbone.EmbedDim}"}, {c.Backbone.DetTokenNum} [DET], {c.NumClasses} classes, " +
        $"{c.DecLayers} decoder layers, {(c.WithBoxRefine ? "box refine" : "shared heads")}");
}
