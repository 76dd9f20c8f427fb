using VkD.Data.Imaging;

namespace VkD.Data.Transforms;

/// <summary>Options of the training pipeline; the defaults are DeiT's (timm create_transform with
/// <c>--aa rand-m9-mstd0.5-inc1 --reprob 0.25 --remode pixel</c>, bicubic, ImageNet statistics).</summary>
public sealed record TrainAugmentOptions
{
    /// <summary>Output side length.</summary>
    public int InputSize { get; init; } = 224;

    /// <summary>RandomResizedCrop area range.</summary>
    public double ScaleMin { get; init; } = 0.08;

    /// <summary>RandomResizedCrop area range.</summary>
    public double ScaleMax { get; init; } = 1.0;

    /// <summary>RandomResizedCrop aspect range.</summary>
    public double RatioMin { get; init; } = 3.0 / 4.0;

    /// <summary>RandomResizedCrop aspect range.</summary>
    public double RatioMax { get; init; } = 4.0 / 3.0;

    /// <summary>Resampling of the crop and of RandAugment's geometric ops.</summary>
    public Interpolation Interpolation { get; init; } = Interpolation.Bicubic;

    /// <summary>Horizontal flip probability.</summary>
    public double HorizontalFlip { get; init; } = 0.5;

    /// <summary>timm RandAugment config, or null for none. Ignored when <see cref="ThreeAugment"/> is on.</summary>
    public string? AutoAugment { get; init; } = "rand-m9-mstd0.5-inc1";

    /// <summary>DeiT III / VkD 3-Augment (grayscale | solarize | blur) instead of RandAugment.</summary>
    public bool ThreeAugment { get; init; }

    /// <summary>ColorJitter strength for brightness, contrast and saturation. As in timm it is only used when no
    /// RandAugment runs (so: with 3-Augment, or without auto-augment); 0 disables it.</summary>
    public double ColorJitter { get; init; } = 0.3;

    /// <summary>Random erasing probability (0 disables).</summary>
    public double RandomErasingProbability { get; init; } = 0.25;

    /// <summary>Random erasing fill.</summary>
    public ErasingMode RandomErasingMode { get; init; } = ErasingMode.Pixel;

    /// <summary>Random erasing box count.</summary>
    public int RandomErasingCount { get; init; } = 1;

    /// <summary>Normalisation (ImageNet by default).</summary>
    public Normalization Normalization { get; init; } = Normalization.ImageNet;

    /// <summary>For inputs of 32 px or less, replace the resized crop with a padded random crop (DeiT's rule).</summary>
    public bool SmallImageRandomCrop { get; init; } = true;

    /// <summary>Padding of the small-image random crop.</summary>
    public int CropPadding { get; init; } = 4;

    /// <summary>Border mode of the small-image random crop.</summary>
    public PaddingMode CropPaddingMode { get; init; } = PaddingMode.Constant;

    /// <summary>DeiT's defaults at <paramref name="inputSize"/>: RRC + flip + RandAugment m9 + random erasing 0.25.</summary>
    public static TrainAugmentOptions DeiT(int inputSize = 224) => new() { InputSize = inputSize };

    /// <summary>The VkD repository's <c>aug_generator</c>: RRC + flip + 3-Augment + ColorJitter 0.3, no RandAugment, no erasing.</summary>
    public static TrainAugmentOptions VkDThreeAugment(int inputSize = 224) => new()
    {
        InputSize = inputSize,
        ThreeAugment = true,
        AutoAugment = null,
        RandomErasingProbability = 0,
    };
}

/// <summary>Builds the standard training and evaluation pipelines.</summary>
public static class TransformPipelines
{
    /// <summary>The training pipeline: [RandomResizedCrop | padded RandomCrop for ≤ 32 px] → horizontal flip →
    /// [3-Augment | RandAugment] → ColorJitter (when no RandAugment) → ToTensor + Normalize → RandomErasing.</summary>
    public static TransformPipeline Train(TrainAugmentOptions options)
    {
        var size = options.InputSize;
        var image = new List<IImageTransform>();
        if (options.SmallImageRandomCrop && size <= 32)
        {
            image.Add(new RandomCropWithPadding(size, options.CropPadding, options.CropPaddingMode));
        }
        else
        {
            image.Add(new RandomResizedCrop(size, options.ScaleMin, options.ScaleMax, options.RatioMin, options.RatioMax, options.Interpolation));
        }
        if (options.HorizontalFlip > 0)
        {
            image.Add(new RandomHorizontalFlip(options.HorizontalFlip));
        }
        bool randAugment = !options.ThreeAugment && !string.IsNullOrEmpty(options.AutoAugment);
        if (options.ThreeAugment)
        {
            image.Add(new ThreeAugment());
        }
        else if (randAugment)
        {
            image.Add(new RandAugment(options.AutoAugment!, options.Normalization.MeanBytes, options.Interpolation));
        }
        if (!randAugment && options.ColorJitter > 0)
        {
            image.Add(new ColorJitter(options.ColorJitter, options.ColorJitter, options.ColorJitter));
        }
        var tensor = new List<ITensorTransform>();
        if (options.RandomErasingProbability > 0)
        {
            tensor.Add(new RandomErasing(options.RandomErasingProbability, options.RandomErasingMode, 1, options.RandomErasingCount));
        }
        return new TransformPipeline(image, options.Normalization, tensor, size, size);
    }

    /// <summary>The evaluation pipeline (DeiT's build_transform): for inputs above 32 px, resize the shorter side to
    /// <c>int(inputSize / cropRatio)</c> (bicubic) and centre-crop <c>inputSize</c>; for 32 px or less the image is
    /// used as is when it already has that size, else resized (shorter side) and centre-cropped to it. Then ToTensor + Normalize.</summary>
    public static TransformPipeline Eval(int inputSize = 224, double cropRatio = 0.875, Normalization? normalization = null,
        Interpolation interpolation = Interpolation.Bicubic)
    {
        if (cropRatio <= 0 || cropRatio > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(cropRatio), $"Crop ratio must be in (0, 1], got {cropRatio}.");
        }
        var resizeTo = inputSize > 32 ? (int)(inputSize / cropRatio) : inputSize;
        IImageTransform[] image = [new Resize(resizeTo, interpolation), new CenterCrop(inputSize)];
        return new TransformPipeline(image, normalization ?? Normalization.ImageNet, [], inputSize, inputSize);
    }
}
