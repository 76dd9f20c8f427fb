using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using VkD.Detection.Models;
using VkD.Detection.Training;

namespace VkD.Cli.Commands;

/// <summary>
/// ViDT's training flags (naver-ai/vidt <c>arguments.py</c>, as VkD's <c>vidt/main.py</c> reads them) for
/// <c>vkd detect train</c> and <c>vkd detect distill</c>, with ViDT's defaults; booleans take <c>True</c>/<c>False</c>.
/// The reference's commands are accepted as written once the <c>python -m torch.distributed.launch ... main.py</c>
/// part is dropped. Flags ViDT parses but does not use in this setup are accepted (hidden) and say so when they would
/// matter.
/// </summary>
public class DetectTrainSettings : CommandSettings
{
    // ---- ViDT: model ----

    /// <summary>--method.</summary>
    [CommandOption("--method <METHOD>"), Description("vidt (ViDT with its neck; the only method built here).")]
    public string? Method { get; init; }

    /// <summary>--backbone_name.</summary>
    [CommandOption("--backbone_name <NAME>"), Description("swin_nano, swin_tiny (ViDT's default), swin_small or swin_base_win7_22k.")]
    public string? BackboneName { get; init; }

    /// <summary>--pre_trained.</summary>
    [CommandOption("--pre_trained <PATH>"), Description("ImageNet Swin checkpoint for the backbone (swin_nano_patch4_window7_224.pth, ...), or none. ViDT's default 'imagenet' downloads them, which cannot be done here.")]
    public string? PreTrained { get; init; }

    /// <summary>--det_token_num.</summary>
    [CommandOption("--det_token_num <N>"), Description("[[DET]] tokens (default 100).")]
    public int? DetTokenNum { get; init; }

    /// <summary>--aux_loss.</summary>
    [CommandOption("--aux_loss <BOOL>"), Description("True/False: set losses on the intermediate decoder outputs too (ViDT's default False; its commands pass True).")]
    public string? AuxLoss { get; init; }

    /// <summary>--with_box_refine.</summary>
    [CommandOption("--with_box_refine <BOOL>"), Description("True/False: iterative box refinement (ViDT's default False; its commands pass True).")]
    public string? WithBoxRefine { get; init; }

    /// <summary>--reduced_dim.</summary>
    [CommandOption("--reduced_dim <N>"), Description("Neck/decoder width (default 256).")]
    public int? ReducedDim { get; init; }

    /// <summary>--pos_dim.</summary>
    [CommandOption("--pos_dim <N>"), Description("[[DET]] position width; must equal --reduced_dim (default 256).")]
    public int? PosDim { get; init; }

    /// <summary>--dec_layers.</summary>
    [CommandOption("--dec_layers <N>"), Description("Decoder layers (default 6).")]
    public int? DecLayers { get; init; }

    /// <summary>--dim_feedforward.</summary>
    [CommandOption("--dim_feedforward <N>"), Description("Decoder FFN width (ViDT's main.py forces 1024 for vidt).")]
    public int? DimFeedforward { get; init; }

    /// <summary>--nheads.</summary>
    [CommandOption("--nheads <N>"), Description("Decoder attention heads (default 8), for the student and the teacher.")]
    public int? NHeads { get; init; }

    /// <summary>--dec_n_points.</summary>
    [CommandOption("--dec_n_points <N>"), Description("Deformable sampling points (default 4), for the student and the teacher.")]
    public int? DecNPoints { get; init; }

    /// <summary>--dropout.</summary>
    [CommandOption("--dropout <P>"), Description("Decoder dropout (default 0.1).")]
    public double? Dropout { get; init; }

    /// <summary>--num_feature_levels.</summary>
    [CommandOption("--num_feature_levels <N>"), Description("4 (the backbone's levels).")]
    public int? NumFeatureLevels { get; init; }

    /// <summary>--cross_indices.</summary>
    [CommandOption("--cross_indices <N>"), Description("Stage with [[DET x PATCH]] cross-attention: 3 (ViDT's default, the only one built).")]
    public int? CrossIndices { get; init; }

    /// <summary>--num_classes (not a ViDT flag: ViDT uses 91 for COCO).</summary>
    [CommandOption("--num_classes <N>"), Description("Class logits (default 91, ViDT's for COCO; the labels are the raw category ids, so it must exceed the largest).")]
    public int? NumClasses { get; init; }

    // ---- ViDT: optimisation ----

    /// <summary>--epochs.</summary>
    [CommandOption("--epochs <N>"), Description("Epochs (default 50).")]
    public int? Epochs { get; init; }

    /// <summary>--lr.</summary>
    [CommandOption("--lr <LR>"), Description("AdamW learning rate of every group (default 1e-4).")]
    public double? Lr { get; init; }

    /// <summary>--min-lr.</summary>
    [CommandOption("--min-lr|--min_lr <LR>"), Description("End of the per-epoch cosine (default 1e-7).")]
    public double? MinLr { get; init; }

    /// <summary>--weight_decay.</summary>
    [CommandOption("--weight_decay|--weight-decay <WD>"), Description("AdamW weight decay (default 1e-4; none on the backbone's 1-D parameters, biases, det_token, det_pos_embed).")]
    public double? WeightDecay { get; init; }

    /// <summary>--clip_max_norm.</summary>
    [CommandOption("--clip_max_norm <NORM>"), Description("Gradient-norm clip (default 0.1; 0 disables).")]
    public double? ClipMaxNorm { get; init; }

    /// <summary>--batch_size.</summary>
    [CommandOption("--batch_size|--batch-size <N>"), Description("Images per step (ViDT's default 16 per GPU; its commands pass 2).")]
    public int? BatchSize { get; init; }

    /// <summary>--num_workers.</summary>
    [CommandOption("--num_workers|--num-workers <N>"), Description("0: load batches in the step; more: the next batch is decoded while the model runs (default 2).")]
    public int? NumWorkers { get; init; }

    /// <summary>--sched.</summary>
    [CommandOption("--sched <NAME>"), Description("warmupcos (ViDT's default, the only one built: per-epoch cosine with ViDT's one-epoch lag).")]
    public string? Sched { get; init; }

    /// <summary>--warmup-epochs.</summary>
    [CommandOption("--warmup-epochs|--warmup_epochs <N>"), Description("0 (ViDT's default, the only value built).")]
    public int? WarmupEpochs { get; init; }

    /// <summary>--seed.</summary>
    [CommandOption("--seed <N>"), Description("Seed of the weights, the order and the augmentation (default 42).")]
    public int? Seed { get; init; }

    // ---- ViDT: matcher and losses ----

    /// <summary>--set_cost_class.</summary>
    [CommandOption("--set_cost_class <W>"), Description("Matcher class cost (default 2).")]
    public double? SetCostClass { get; init; }

    /// <summary>--set_cost_bbox.</summary>
    [CommandOption("--set_cost_bbox <W>"), Description("Matcher L1 box cost (default 5).")]
    public double? SetCostBbox { get; init; }

    /// <summary>--set_cost_giou.</summary>
    [CommandOption("--set_cost_giou <W>"), Description("Matcher GIoU cost (default 2).")]
    public double? SetCostGiou { get; init; }

    /// <summary>--cls_loss_coef.</summary>
    [CommandOption("--cls_loss_coef <W>"), Description("Focal class loss weight (default 2).")]
    public double? ClsLossCoef { get; init; }

    /// <summary>--bbox_loss_coef.</summary>
    [CommandOption("--bbox_loss_coef <W>"), Description("L1 box loss weight (default 5).")]
    public double? BboxLossCoef { get; init; }

    /// <summary>--giou_loss_coef.</summary>
    [CommandOption("--giou_loss_coef <W>"), Description("GIoU loss weight (default 2).")]
    public double? GiouLossCoef { get; init; }

    /// <summary>--focal_alpha.</summary>
    [CommandOption("--focal_alpha <A>"), Description("Focal alpha of the loss and the matcher (default 0.25).")]
    public double? FocalAlpha { get; init; }

    // ---- ViDT: distillation ----

    /// <summary>--distil_model.</summary>
    [CommandOption("--distil_model <NAME>"), Description("vkd (VkD's six projected pairs), vidt (ViDT's token matching), or ViDT's teacher name vidt_nano|vidt_tiny|vidt_small|vidt_base (VkD's distillation, the teacher checked to be that size).")]
    public string? DistilModel { get; init; }

    /// <summary>--distil_model_path.</summary>
    [CommandOption("--distil_model_path <CKPT>"), Description("The teacher: a ViDT checkpoint (ViDT's release layout, or a vkd detect train output), loaded strictly.")]
    public string? DistilModelPath { get; init; }

    /// <summary>--distil_loss_coef.</summary>
    [CommandOption("--distil_loss_coef <W>"), Description("Distillation weight (default 4.0).")]
    public double? DistilLossCoef { get; init; }

    // ---- ViDT: data, evaluation and files ----

    /// <summary>--coco_path.</summary>
    [CommandOption("--coco_path|--coco-path <DIR>"), Description("COCO's layout (annotations/instances_{train,val}2017.json, train2017/, val2017/) or train/ and val/ sets from vkd data make-detection.")]
    public string? CocoPath { get; init; }

    /// <summary>--dataset_file.</summary>
    [CommandOption("--dataset_file <NAME>"), Description("coco (ViDT's default).")]
    public string? DatasetFile { get; init; }

    /// <summary>--eval_size.</summary>
    [CommandOption("--eval_size <PX>"), Description("Shortest side of the val resize (default 800).")]
    public int? EvalSize { get; init; }

    /// <summary>--train_size (not a ViDT flag).</summary>
    [CommandOption("--train_size <PX>"), Description("Scale of ViDT's train recipe (default 800 = ViDT's 480..800 multi-scale, 384..600 crops); e.g. 128 for small generated images.")]
    public int? TrainSize { get; init; }

    /// <summary>--output_dir.</summary>
    [CommandOption("--output_dir|--output-dir <DIR>"), Description("Run folder: checkpoints, iterations.csv, epochs.csv (AP, AP50, AP75), plots, summary.json, checkpoint.pth (ViDT's layout).")]
    public string? OutputDir { get; init; }

    /// <summary>--resume.</summary>
    [CommandOption("--resume <CKPT>"), Description("Continue a run from its latest.pth.tar (or 'auto': the one in --output_dir), bit-exactly; with --eval True, the checkpoint to evaluate.")]
    public string? Resume { get; init; }

    /// <summary>--eval.</summary>
    [CommandOption("--eval <BOOL>"), Description("True: only evaluate --resume on the val set (as ViDT's main.py --eval True).")]
    public string? Eval { get; init; }

    /// <summary>--device.</summary>
    [CommandOption("--device <DEVICE>"), Description("cpu (default here; ViDT's default is cuda), cuda or cuda:N.")]
    public string? Device { get; init; }

    /// <summary>--print_freq.</summary>
    [CommandOption("--print_freq <N>"), Description("Iterations between progress lines when output is redirected (default 20).")]
    public int? PrintFreq { get; init; }

    // ---- VkD.NET ----

    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>"), Description("Intra-op CPU threads (0 = default).")]
    public int? Threads { get; init; }

    /// <summary>--eval-every.</summary>
    [CommandOption("--eval-every <N>"), Description("Evaluate COCO AP every N epochs (default 1, as ViDT; the last epoch always).")]
    public int? EvalEvery { get; init; }

    /// <summary>--save-every.</summary>
    [CommandOption("--save-every <N>"), Description("Keep a numbered checkpoint every N epochs (default 20; 0: none).")]
    public int? SaveEvery { get; init; }

    /// <summary>--save-every-iters.</summary>
    [CommandOption("--save-every-iters <N>"), Description("Also save latest.pth.tar every N iterations within an epoch (0: at epoch ends only).")]
    public int? SaveEveryIters { get; init; }

    /// <summary>--train-subset.</summary>
    [CommandOption("--train-subset <N>"), Description("Train on the first N images in id order (0 = all).")]
    public int? TrainSubset { get; init; }

    /// <summary>--eval-subset.</summary>
    [CommandOption("--eval-subset <N>"), Description("Evaluate on the first N val images in id order (0 = all).")]
    public int? EvalSubset { get; init; }

    /// <summary>--eval-batch-size.</summary>
    [CommandOption("--eval-batch-size <N>"), Description("Images per val batch (default 2, as ViDT's evaluation per GPU).")]
    public int? EvalBatchSize { get; init; }

    // ---- accepted without effect here (ViDT parses them; they do nothing in this recipe) ----

    /// <summary>--lr_backbone (unused by ViDT's optimizer).</summary>
    [CommandOption("--lr_backbone <LR>", IsHidden = true)]
    public double? LrBackbone { get; init; }

    /// <summary>--lr_drop (the step schedule's; unused with warmupcos).</summary>
    [CommandOption("--lr_drop <N>", IsHidden = true)]
    public int? LrDrop { get; init; }

    /// <summary>--warmup-lr (no effect without warmup).</summary>
    [CommandOption("--warmup-lr|--warmup_lr <LR>", IsHidden = true)]
    public double? WarmupLr { get; init; }

    /// <summary>--decay-rate (no effect in one cosine cycle).</summary>
    [CommandOption("--decay-rate|--dr <RATE>", IsHidden = true)]
    public double? DecayRate { get; init; }

    /// <summary>--lr_linear_proj_mult (unused by ViDT).</summary>
    [CommandOption("--lr_linear_proj_mult <M>", IsHidden = true)]
    public double? LrLinearProjMult { get; init; }

    /// <summary>--eos_coef (DETR's softmax no-object weight; unused with the focal loss).</summary>
    [CommandOption("--eos_coef <W>", IsHidden = true)]
    public double? EosCoef { get; init; }

    /// <summary>--dice_loss_coef (segmentation).</summary>
    [CommandOption("--dice_loss_coef <W>", IsHidden = true)]
    public double? DiceLossCoef { get; init; }

    /// <summary>--mask_loss_coef (segmentation).</summary>
    [CommandOption("--mask_loss_coef <W>", IsHidden = true)]
    public double? MaskLossCoef { get; init; }

    /// <summary>--position_embedding (sine only).</summary>
    [CommandOption("--position_embedding <NAME>", IsHidden = true)]
    public string? PositionEmbedding { get; init; }

    /// <summary>--start_epoch (set by --resume).</summary>
    [CommandOption("--start_epoch <N>", IsHidden = true)]
    public int? StartEpoch { get; init; }

    /// <summary>--n_iter_to_acc (1 only).</summary>
    [CommandOption("--n_iter_to_acc <N>", IsHidden = true)]
    public int? NIterToAcc { get; init; }

    /// <summary>--lr-noise (not built).</summary>
    [CommandOption("--lr-noise <PCT>", IsHidden = true)]
    public string? LrNoise { get; init; }

    /// <summary>ViDT+ switch (False only).</summary>
    [CommandOption("--cross_scale_fusion <BOOL>", IsHidden = true)]
    public string? CrossScaleFusion { get; init; }

    /// <summary>ViDT+ switch (False only).</summary>
    [CommandOption("--iou_aware <BOOL>", IsHidden = true)]
    public string? IouAware { get; init; }

    /// <summary>ViDT+ switch (False only).</summary>
    [CommandOption("--token_label <BOOL>", IsHidden = true)]
    public string? TokenLabel { get; init; }

    /// <summary>ViDT's torch.distributed settings: answered with what to do.</summary>
    [CommandOption("--world_size <N>", IsHidden = true)]
    public string? WorldSize { get; init; }

    /// <summary>ViDT's torch.distributed setting.</summary>
    [CommandOption("--dist-url <URL>", IsHidden = true)]
    public string? DistUrl { get; init; }

    /// <summary>torch.distributed.launch flags: answered with what to do.</summary>
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

    /// <summary>True when the command must have a teacher (<c>detect distill</c>).</summary>
    protected virtual bool RequiresTeacher => false;

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        var launcher = new (string Flag, bool Given)[]
        {
            ("--nproc_per_node", NprocPerNode is not null), ("--nnodes", Nnodes is not null), ("--node_rank", NodeRank is not null),
            ("--master_addr", MasterAddr is not null), ("--master_port", MasterPort is not null), ("--use_env", UseEnv is not null),
            ("--world_size", WorldSize is not null), ("--dist-url", DistUrl is not null),
        }.Where(f => f.Given).Select(f => f.Flag).ToList();
        if (launcher.Count > 0)
        {
            return ValidationResult.Error($"{string.Join(", ", launcher)}: {(launcher.Count == 1 ? "a flag" : "flags")} of torch.distributed. " +
                "vkd detect trains in one process (use --threads for CPU threads): drop 'python -m torch.distributed.launch ... main.py' and its flags, keep ViDT's own.");
        }
        foreach (var (flag, value) in new[] { ("--aux_loss", AuxLoss), ("--with_box_refine", WithBoxRefine), ("--eval", Eval),
                     ("--cross_scale_fusion", CrossScaleFusion), ("--iou_aware", IouAware), ("--token_label", TokenLabel) })
        {
            if (value is not null && DetectVidtModelSettings.ParseBool(value) is null)
            {
                return ValidationResult.Error($"{flag} takes True or False (as in ViDT), got '{value}'.");
            }
        }
        foreach (var (flag, value) in new[] { ("--cross_scale_fusion", CrossScaleFusion), ("--iou_aware", IouAware), ("--token_label", TokenLabel) })
        {
            if (value is not null && DetectVidtModelSettings.ParseBool(value) == true)
            {
                return ValidationResult.Error($"{flag} True is a ViDT+ extra, which VkD.NET does not build (ViDT as VkD distills it: --aux_loss, --with_box_refine only).");
            }
        }
        if (Method is not null and not "vidt")
        {
            return ValidationResult.Error($"--method {Method} is not built here: only ViDT with its neck (--method vidt).");
        }
        if (DatasetFile is not null and not "coco")
        {
            return ValidationResult.Error($"--dataset_file {DatasetFile}: only coco (--coco_path, COCO's layout or vkd data make-detection's train/ and val/).");
        }
        if (Sched is not null and not "warmupcos")
        {
            return ValidationResult.Error($"--sched {Sched}: only warmupcos (ViDT's default) is built.");
        }
        if (WarmupEpochs is not null and not 0)
        {
            return ValidationResult.Error($"--warmup-epochs {WarmupEpochs}: only 0 (ViDT's default) is built.");
        }
        if (NIterToAcc is not null and not 1)
        {
            return ValidationResult.Error($"--n_iter_to_acc {NIterToAcc}: gradient accumulation is not built; use a larger --batch_size.");
        }
        if (LrNoise is not null)
        {
            return ValidationResult.Error("--lr-noise is not built (ViDT's default is off).");
        }
        if (PositionEmbedding is not null and not "sine")
        {
            return ValidationResult.Error($"--position_embedding {PositionEmbedding}: only sine (ViDT's) is built.");
        }
        if (StartEpoch is not null and not 0)
        {
            return ValidationResult.Error("--start_epoch: a run continues where its checkpoint says with --resume; the start epoch is not set by hand.");
        }
        if (NumFeatureLevels is not null and not 4)
        {
            return ValidationResult.Error($"--num_feature_levels {NumFeatureLevels}: ViDT's Swin gives 4 levels.");
        }
        if (CrossIndices is not null and not 3)
        {
            return ValidationResult.Error($"--cross_indices {CrossIndices}: only the last stage (3, ViDT's default) is built.");
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
        if (DistilModel is not null && ParseDistillation(DistilModel) is null)
        {
            return ValidationResult.Error($"--distil_model {DistilModel}: use vkd, vidt, or ViDT's teacher names vidt_nano, vidt_tiny, vidt_small, vidt_base.");
        }
        if (DistilModel is not null && DistilModelPath is null)
        {
            return ValidationResult.Error($"--distil_model {DistilModel} needs the teacher: --distil_model_path <ViDT checkpoint>.");
        }
        if (DistilModelPath is not null && DistilModel is null && !RequiresTeacher)
        {
            return ValidationResult.Error("--distil_model_path needs --distil_model vkd (VkD's distillation) or vidt (ViDT's token matching), as ViDT distils only when --distil_model is given; or use vkd detect distill.");
        }
        if (RequiresTeacher && DistilModelPath is null)
        {
            return ValidationResult.Error("vkd detect distill needs the teacher: --distil_model_path <ViDT checkpoint> (and --distil_model vkd or vidt; default vkd).");
        }
        if (CocoPath is null)
        {
            return ValidationResult.Error("Pass the data: --coco_path <dir> (COCO's layout, or train/ and val/ sets from vkd data make-detection).");
        }
        if (ParseBool(Eval) == true && Resume is null)
        {
            return ValidationResult.Error("--eval True evaluates a checkpoint: pass --resume <checkpoint>.");
        }
        foreach (var (flag, value) in new[] { ("--det_token_num", DetTokenNum), ("--reduced_dim", ReducedDim), ("--pos_dim", PosDim), ("--dec_layers", DecLayers),
                     ("--dim_feedforward", DimFeedforward), ("--nheads", NHeads), ("--dec_n_points", DecNPoints), ("--eval_size", EvalSize), ("--train_size", TrainSize),
                     ("--epochs", Epochs), ("--batch_size", BatchSize), ("--num_classes", NumClasses), ("--print_freq", PrintFreq), ("--eval-batch-size", EvalBatchSize) })
        {
            if (value is <= 0)
            {
                return ValidationResult.Error($"{flag} must be positive, got {value}.");
            }
        }
        foreach (var (flag, value) in new[] { ("--threads", Threads), ("--num_workers", NumWorkers), ("--eval-every", EvalEvery), ("--save-every", SaveEvery),
                     ("--save-every-iters", SaveEveryIters), ("--train-subset", TrainSubset), ("--eval-subset", EvalSubset) })
        {
            if (value is < 0)
            {
                return ValidationResult.Error($"{flag} must be 0 or positive, got {value}.");
            }
        }
        if (ReducedDim is { } r && PosDim is { } p && r != p)
        {
            return ValidationResult.Error($"--pos_dim ({p}) must equal --reduced_dim ({r}), as in ViDT.");
        }
        if (Dropout is { } d && (double.IsNaN(d) || d is < 0 or >= 1))
        {
            return ValidationResult.Error($"--dropout must be in [0, 1), got {d}.");
        }
        return ValidationResult.Success();
    }

    /// <summary>ViDT's boolean value of <paramref name="value"/>; null when not given.</summary>
    public static bool? ParseBool(string? value) => value is null ? null : DetectVidtModelSettings.ParseBool(value);

    /// <summary>The distillation and the teacher name a <c>--distil_model</c> value asks for; null for an unknown value.</summary>
    public static (DetectionDistillation Distillation, string? TeacherName)? ParseDistillation(string value) => value switch
    {
        "vkd" => (DetectionDistillation.Vkd, null),
        "vidt" => (DetectionDistillation.TokenMatching, null),
        "vidt_nano" or "vidt_tiny" or "vidt_small" or "vidt_base" => (DetectionDistillation.Vkd, value),
        _ => null,
    };

    /// <summary>The student these flags describe (ViDT's defaults for what is not given).</summary>
    public VidtConfig ResolveModel()
    {
        var backbone = VidtCheckpoint.BackboneByName(BackboneName ?? "swin_tiny");
        var hidden = ReducedDim ?? PosDim ?? 256;
        backbone = backbone with { DetTokenNum = DetTokenNum ?? 100, PosDim = hidden };
        return new VidtConfig(backbone, NumClasses ?? 91, hidden, NHeads ?? 8, DecLayers ?? 6, DimFeedforward ?? 1024, Dropout ?? 0.1,
            DecNPoints ?? 4, ParseBool(WithBoxRefine) ?? false);
    }

    /// <summary>The run these flags describe.</summary>
    public DetectionTrainingOptions ResolveRun()
    {
        var (distillation, teacherName) = DistilModel is not null ? ParseDistillation(DistilModel)!.Value
            : RequiresTeacher ? (DetectionDistillation.Vkd, null) : (DetectionDistillation.None, null);
        return new DetectionTrainingOptions
        {
            CocoPath = CocoPath!,
            Model = ResolveModel(),
            AuxLoss = ParseBool(AuxLoss) ?? false,
            PreTrained = PreTrained ?? "imagenet",
            Distillation = distillation,
            DistilModelPath = DistilModelPath,
            TeacherName = teacherName,
            DistilLossCoef = DistilLossCoef ?? VidtDistillation.DefaultCoefficient,
            TeacherNHeads = NHeads ?? 8,
            TeacherDecNPoints = DecNPoints ?? 4,
            Epochs = Epochs ?? 50,
            Lr = Lr ?? 1e-4,
            MinLr = MinLr ?? 1e-7,
            WeightDecay = WeightDecay ?? 1e-4,
            ClipMaxNorm = ClipMaxNorm ?? 0.1,
            BatchSize = BatchSize ?? 16,
            NumWorkers = NumWorkers ?? 2,
            EvalSize = EvalSize ?? 800,
            TrainSize = TrainSize ?? 800,
            EvalBatchSize = EvalBatchSize ?? 2,
            MatcherCosts = (SetCostClass ?? 2, SetCostBbox ?? 5, SetCostGiou ?? 2),
            LossWeights = new SetLossWeights(ClsLossCoef ?? 2, BboxLossCoef ?? 5, GiouLossCoef ?? 2),
            FocalAlpha = FocalAlpha ?? 0.25,
            Seed = Seed ?? 42,
            OutputDir = OutputDir ?? "",
            Resume = Resume ?? "",
            Device = Device ?? "cpu",
            Threads = Threads ?? 0,
            EvalEvery = EvalEvery ?? 1,
            SaveEvery = SaveEvery ?? 20,
            SaveEveryIters = SaveEveryIters ?? 0,
            TrainSubset = TrainSubset ?? 0,
            EvalSubset = EvalSubset ?? 0,
            Arguments = Arguments(),
        };
    }

    /// <summary>Every flag given, under its ViDT name, as the run records it (<c>config.json</c>, <c>vidt_args</c>).</summary>
    public IReadOnlyDictionary<string, object?> Arguments()
    {
        var result = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in GetType().GetProperties())
        {
            var option = property.GetCustomAttributes(typeof(CommandOptionAttribute), true).OfType<CommandOptionAttribute>().FirstOrDefault();
            var value = property.GetValue(this);
            if (option is null || value is null)
            {
                continue;
            }
            var name = option.LongNames.FirstOrDefault() ?? property.Name;
            result[name] = value switch
            {
                int i => (long)i,
                double x => x,
                bool b => b,
                _ => Convert.ToString(value, CultureInfo.InvariantCulture),
            };
        }
        return result;
    }
}

/// <summary>Flags of <c>vkd detect distill</c>: <see cref="DetectTrainSettings"/> with the teacher required.</summary>
public sealed class DetectDistillSettings : DetectTrainSettings
{
    /// <inheritdoc />
    protected override bool RequiresTeacher => true;
}
