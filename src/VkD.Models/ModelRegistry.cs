namespace VkD.Models;

/// <summary>One registry entry.</summary>
/// <param name="Name">Registry name (the reference's name).</param>
/// <param name="Family">Architecture family (file that implements it).</param>
/// <param name="DefaultImgSize">Input resolution the model is meant for.</param>
/// <param name="Description">One line for listings.</param>
public sealed record ModelInfo(string Name, string Family, int DefaultImgSize, string Description);

/// <summary>
/// The single model registry of the project: builds every classification model by the reference's name
/// (timm / torchvision / VkD / RepDistiller), with timm's <c>num_classes</c>, <c>img_size</c>,
/// <c>drop_path_rate</c> and <c>in_chans</c> options (<see cref="ModelOptions"/>).
/// </summary>
public static class ModelRegistry
{
    private sealed record Entry(ModelInfo Info, Func<ModelOptions, ClassifierModel> Factory);

    private static readonly Dictionary<string, Entry> Entries = Build();

    /// <summary>Every registered name, sorted.</summary>
    public static IReadOnlyList<string> Names { get; } = Entries.Keys.OrderBy(n => n, StringComparer.Ordinal).ToArray();

    /// <summary>Information about every registered model, sorted by name.</summary>
    public static IReadOnlyList<ModelInfo> Models { get; } = Names.Select(n => Entries[n].Info).ToArray();

    /// <summary>True when <paramref name="name"/> is registered.</summary>
    public static bool Contains(string name) => Entries.ContainsKey(name);

    /// <summary>Information about <paramref name="name"/>; throws like <see cref="Create"/> for unknown names.</summary>
    public static ModelInfo Info(string name) => Lookup(name).Info;

    /// <summary>Builds the model registered as <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name (the message lists the known names) or invalid options.</exception>
    public static ClassifierModel Create(string name, ModelOptions? options = null)
    {
        var entry = Lookup(name);
        options ??= new ModelOptions();
        options.Validate(name);
        return entry.Factory(options);
    }

    private static Entry Lookup(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Entries.TryGetValue(name, out var entry)
            ? entry
            : throw new ArgumentException($"Unknown model '{name}'. Known models: {string.Join(", ", Names)}.", nameof(name));
    }

    private static Dictionary<string, Entry> Build()
    {
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        void Add(string name, string family, int imgSize, string description, Func<ModelOptions, ClassifierModel> factory) =>
            entries.Add(name, new Entry(new ModelInfo(name, family, imgSize, description), factory));

        // DeiT / ViT (timm vision_transformer.py / deit.py).
        (string Size, int Dim, int Heads)[] deits = [("tiny", 192, 3), ("small", 384, 6), ("base", 768, 12)];
        foreach (var (size, dim, heads) in deits)
        {
            Add($"deit_{size}_patch16_224", "VisionTransformer", 224, $"DeiT-{size} (timm), patch 16, D={dim}, 12 blocks",
                o => new VisionTransformer(Vit(o, 224, 16, dim, 12, heads)));
            Add($"deit_{size}_distilled_patch16_224", "DistilledVisionTransformer", 224,
                $"DeiT-{size} distilled (timm): learned dist token, two heads",
                o => new DistilledVisionTransformer(Vit(o, 224, 16, dim, 12, heads)));
        }

        // VkD students (roymiles/VkD models/deit.py): conv stem, dist token = mean of the stem tokens.
        Add("deit_ti_distilled", "ConvStemDistilledVisionTransformer", 224, "VkD student DeiT-Ti: conv stem, mean dist token, two heads",
            o => new ConvStemDistilledVisionTransformer(Vit(o, 224, 16, 192, 12, 3), new ConvStemConfig()));
        Add("deit_s_distilled", "ConvStemDistilledVisionTransformer", 224, "VkD student DeiT-S: conv stem, mean dist token, two heads",
            o => new ConvStemDistilledVisionTransformer(Vit(o, 224, 16, 384, 12, 6), new ConvStemConfig()));

        // Small transformers for 28-32 px inputs (not in the references; sized for training on 2 CPU cores).
        Add("deit_nano_patch4_32", "VisionTransformer", 32, "Small ViT for 28-32 px: patch 4, D=128, 6 blocks, 4 heads",
            o => new VisionTransformer(Vit(o, 32, 4, 128, 6, 4)));
        Add("deit_nano_distilled_patch4_32", "DistilledVisionTransformer", 32, "Small timm-style distilled ViT for 28-32 px (learned dist token)",
            o => new DistilledVisionTransformer(Vit(o, 32, 4, 128, 6, 4)));
        Add("deit_nano_convstem_distilled_32", "ConvStemDistilledVisionTransformer", 32,
            "Small VkD-style student for 28-32 px: 3x3 conv stem (32 ch, stride 1) + 4x4 projection, mean dist token, two heads",
            o => new ConvStemDistilledVisionTransformer(Vit(o, 32, 4, 128, 6, 4), new ConvStemConfig(32, 3, 1, 4)));

        // Swin Transformer (microsoft/Swin-Transformer, timm swin_transformer.py); swin_nano is ViDT's ImageNet model.
        (string Size, int Dim, int[] Depths, int[] Heads)[] swins =
        [
            ("nano", 48, [2, 2, 6, 2], [3, 6, 12, 24]),
            ("tiny", 96, [2, 2, 6, 2], [3, 6, 12, 24]),
            ("small", 96, [2, 2, 18, 2], [3, 6, 12, 24]),
            ("base", 128, [2, 2, 18, 2], [4, 8, 16, 32]),
        ];
        foreach (var (size, dim, depths, heads) in swins)
        {
            Add($"swin_{size}_patch4_window7_224", "SwinTransformer", 224,
                $"Swin-{size} (microsoft/timm): patch 4, window 7, C={dim}, depths {string.Join("-", depths)}",
                o => new SwinTransformer(new SwinTransformerConfig(o.ImgSize ?? 224, 4, o.InChans, o.NumClasses, dim, depths, heads,
                    DropPathRate: o.DropPathRate)));
        }

        // RegNetY (timm regnet.py model_cfgs).
        (string Name, RegNetConfig Cfg)[] regnets =
        [
            ("regnety_002", new RegNetConfig(13, 24, 36.44, 2.49, 8, 0.25)),
            ("regnety_004", new RegNetConfig(16, 48, 27.89, 2.09, 8, 0.25)),
            ("regnety_006", new RegNetConfig(15, 48, 32.54, 2.32, 16, 0.25)),
            ("regnety_008", new RegNetConfig(14, 56, 38.84, 2.4, 16, 0.25)),
            ("regnety_016", new RegNetConfig(27, 48, 20.71, 2.65, 24, 0.25)),
            ("regnety_032", new RegNetConfig(21, 80, 42.63, 2.66, 24, 0.25)),
            ("regnety_040", new RegNetConfig(22, 96, 31.41, 2.24, 64, 0.25)),
            ("regnety_064", new RegNetConfig(25, 112, 33.22, 2.27, 72, 0.25)),
            ("regnety_080", new RegNetConfig(17, 192, 76.82, 2.19, 56, 0.25)),
            ("regnety_120", new RegNetConfig(19, 168, 73.36, 2.37, 112, 0.25)),
            ("regnety_160", new RegNetConfig(18, 200, 106.23, 2.48, 112, 0.25)),
            ("regnety_320", new RegNetConfig(20, 232, 115.89, 2.53, 232, 0.25)),
        ];
        foreach (var (name, cfg) in regnets)
        {
            Add(name, "RegNet", 224, $"RegNetY (timm): depth {cfg.Depth}, w0 {cfg.W0}, wa {cfg.Wa}, wm {cfg.Wm}, group {cfg.GroupSize}",
                o => new RegNet(cfg, o.InChans, o.NumClasses, o.DropPathRate));
        }

        // torchvision ResNets.
        Add("resnet18", "ResNet", 224, "torchvision ResNet-18", o => new ResNet(ResNetBlock.Basic, [2, 2, 2, 2], o.NumClasses, o.InChans));
        Add("resnet34", "ResNet", 224, "torchvision ResNet-34", o => new ResNet(ResNetBlock.Basic, [3, 4, 6, 3], o.NumClasses, o.InChans));
        Add("resnet50", "ResNet", 224, "torchvision ResNet-50 (v1.5)", o => new ResNet(ResNetBlock.Bottleneck, [3, 4, 6, 3], o.NumClasses, o.InChans));

        // CIFAR ResNets (CRD / RepDistiller models/resnet.py).
        (string Name, int Depth, int[] Filters)[] cifar =
        [
            ("resnet8", 8, [16, 16, 32, 64]),
            ("resnet20", 20, [16, 16, 32, 64]),
            ("resnet32", 32, [16, 16, 32, 64]),
            ("resnet56", 56, [16, 16, 32, 64]),
            ("resnet110", 110, [16, 16, 32, 64]),
            ("resnet8x4", 8, [32, 64, 128, 256]),
            ("resnet32x4", 32, [32, 64, 128, 256]),
        ];
        foreach (var (name, depth, filters) in cifar)
        {
            Add(name, "CifarResNet", 32, $"CIFAR ResNet (RepDistiller): depth {depth}, widths [{string.Join(", ", filters)}]",
                o => new CifarResNet(depth, filters, o.NumClasses, o.InChans));
        }
        return entries;
    }

    private static VisionTransformerConfig Vit(ModelOptions o, int defaultImg, int patch, int dim, int depth, int heads) =>
        new(o.ImgSize ?? defaultImg, patch, o.InChans, o.NumClasses, dim, depth, heads, DropPathRate: o.DropPathRate);
}
