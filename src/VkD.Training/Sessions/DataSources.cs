using VkD.Data.Datasets;
using VkD.Data.Loading;
using VkD.Data.Transforms;
using VkD.Training.Distributed;
using VkD.Training.Loop;
using VkD.Training.Options;

namespace VkD.Training.Sessions;

/// <summary>Adapts VkD.Data's <see cref="BatchLoader"/> to the trainer's <see cref="IBatchSource"/>.</summary>
public sealed class LoaderBatchSource : IBatchSource
{
    private readonly BatchLoader _loader;
    private readonly IImageDataset _dataset;

    /// <summary>Wraps <paramref name="loader"/> over <paramref name="dataset"/>.</summary>
    public LoaderBatchSource(BatchLoader loader, IImageDataset dataset)
    {
        _loader = loader;
        _dataset = dataset;
    }

    /// <inheritdoc />
    public int Count => _loader.SamplesPerEpoch;

    /// <inheritdoc />
    public int NumClasses => _dataset.ClassNames.Count;

    /// <inheritdoc />
    public int BatchesPerEpoch => _loader.BatchesPerEpoch;

    /// <summary>Images in the dataset the batches are drawn from (the range of their indices).</summary>
    public int DatasetCount => _loader.DatasetCount;

    /// <summary>Class names of the dataset.</summary>
    public IReadOnlyList<string> ClassNames => _dataset.ClassNames;

    /// <summary>Raised after each epoch's enumeration with the images that failed to decode during it (replaced or left
    /// out under <c>--skip-bad-images</c>).</summary>
    public event EventHandler<SkippedImagesReport>? EpochImagesChecked
    {
        add => _loader.EpochCompleted += value;
        remove => _loader.EpochCompleted -= value;
    }

    /// <inheritdoc />
    public IEnumerable<Loop.Batch> GetEpoch(int epoch, int startBatch = 0)
    {
        foreach (var b in _loader.GetEpoch(epoch, startBatch))
        {
            // The loader's batch owns its tensors; ownership moves to the trainer's batch.
            yield return new Loop.Batch(b.Images, b.Labels, b.Indices);
        }
    }

    /// <inheritdoc />
    public string Describe(int index) => _dataset.Describe(index);
}

/// <summary>The opened training and evaluation data of a run.</summary>
/// <param name="Spec">The dataset spec.</param>
/// <param name="Train">Training batches (shuffled, drop-last, augmented).</param>
/// <param name="Eval">Evaluation batches (fixed order, eval transform).</param>
/// <param name="InputSize">Network input side.</param>
/// <param name="Channels">Image channels.</param>
/// <param name="BadImages">Files the pre-flight check found bad and left out (<c>--skip-bad-images</c>), training
/// files first.</param>
public sealed record DataSources(DatasetSpec Spec, LoaderBatchSource Train, LoaderBatchSource Eval, int InputSize, int Channels,
    IReadOnlyList<BadImage> BadImages)
{
    /// <summary>Number of classes.</summary>
    public int NumClasses => Train.NumClasses;

    /// <summary>Per-channel mean and std the images are normalised with (recorded in checkpoints and exports).</summary>
    public Normalization Normalization { get; private init; } = Normalization.ImageNet;

    /// <summary>Side of the training batches: <see cref="InputSize"/>, or larger after <see cref="WithTrainingImageSize"/>
    /// (the student then gets each batch resized down to <see cref="InputSize"/>).</summary>
    public int TrainImageSize { get; private init; }

    /// <summary>True when training images are cropped from larger pictures (random-resized-crop recipe), so a larger
    /// <see cref="TrainImageSize"/> gives the teacher real detail; false for small images (the padded-crop recipe),
    /// where a larger size could only upscale.</summary>
    public bool CropsFromLargerImages => _augment?.SmallImageRandomCrop == false;

    /// <summary>The training augmentation's settings as text (a teacher-output cache records what its draws were made with).</summary>
    public string TrainAugmentation => _augment?.ToString() ?? "";

    private IImageDataset? _trainSet;

    /// <summary>The shard <see cref="Eval"/> reads when the evaluation set is sharded over ranks, else null.</summary>
    public StridedShard? EvalShard { get; private init; }
    private TrainAugmentOptions? _augment;
    private Func<IImageDataset, TrainAugmentOptions, LoaderBatchSource>? _trainLoader;

    /// <summary>The same data with training batches at <paramref name="size"/> px: the same augmentation draws, the
    /// random-resized crop taken at that size (for a teacher that needs more pixels than the student).</summary>
    /// <exception cref="InvalidOperationException">The training images are small (see <see cref="CropsFromLargerImages"/>).</exception>
    public DataSources WithTrainingImageSize(int size)
    {
        if (size == TrainImageSize)
        {
            return this;
        }
        if (!CropsFromLargerImages || _trainSet is null || _augment is null || _trainLoader is null)
        {
            throw new InvalidOperationException($"Training images of {Spec} are small ({InputSize} px, padded-crop recipe): a {size} px batch could only upscale them.");
        }
        var augment = _augment with { InputSize = size };
        return this with { Train = _trainLoader(_trainSet, augment), TrainImageSize = size, _augment = augment };
    }

    /// <summary>Opens the data named by <paramref name="o"/> (<c>--data-set</c>/<c>--data-path</c>) for this rank.</summary>
    /// <param name="o">The run's options.</param>
    /// <param name="rank">This process's shard.</param>
    /// <param name="worldSize">Number of shards.</param>
    /// <param name="needTrain">False for evaluation only.</param>
    /// <param name="modelInputSize">The input size the model is meant for (timm's default, e.g. 224), used when
    /// <c>--input-size</c> is not given and the images are larger than 32 px; 0: the images' own size.</param>
    /// <param name="shardEval">Evaluate on this rank's <see cref="StridedShard"/> of the evaluation set (data parallelism).</param>
    /// <exception cref="ArgumentException">Unknown dataset kind, or no data at the path (message names it).</exception>
    public static DataSources Open(TrainingOptions o, int rank = 0, int worldSize = 1, bool needTrain = true, int modelInputSize = 0, bool shardEval = false)
    {
        var spec = ResolveSpec(o.DataSet, o.DataPath);
        IImageDataset train, val;
        try
        {
            val = spec.Open(DataSplit.Val);
            train = needTrain ? spec.Open(DataSplit.Train) : val;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            throw new ArgumentException($"No usable {spec.Kind} data at --data-path '{spec.Path}': {e.Message}", e);
        }
        if (o.TrainSubset > 0)
        {
            train = BalancedSubset.Draw(train, o.TrainSubset, (ulong)o.Seed);
        }
        if (o.EvalSubset > 0)
        {
            // A fixed seed, not the run's: runs with different seeds are then evaluated on the same images.
            val = BalancedSubset.Draw(val, o.EvalSubset, seed: 0);
        }
        var bad = new List<BadImage>();
        if (!o.NoImageCheck)
        {
            var threads = Math.Max(1, o.Threads > 0 ? o.Threads : Environment.ProcessorCount);
            var badTrain = needTrain ? ImagePreflight.Find(train, threads) : [];
            var badVal = ImagePreflight.Find(val, threads);
            if (badTrain.Count + badVal.Count > 0 && !o.SkipBadImages)
            {
                var all = badTrain.Concat(badVal).ToList();
                throw new ArgumentException($"{all.Count} image file(s) cannot be used: " +
                    string.Join("; ", all.Take(5).Select(b => $"'{b.Path}': {b.Reason}")) + (all.Count > 5 ? "; ..." : "") +
                    ". Fix or remove them, or pass --skip-bad-images to train without them (the list is then written to the run folder).");
            }
            val = ImagePreflight.Without(val, badVal);
            train = needTrain ? ImagePreflight.Without(train, badTrain) : val;
            bad.AddRange(badTrain);
            bad.AddRange(badVal);
        }
        if (train.Count == 0 || val.Count == 0)
        {
            throw new ArgumentException($"The dataset at '{spec.Path}' has {train.Count} training and {val.Count} evaluation images; both must be > 0.");
        }
        var first = val.LoadImage(0);
        var sourceSize = Math.Max(first.Height, first.Width);
        // Small images (MNIST-like) are used at their own size; photos at the model's, as the reference's 224 default,
        // not at the first photo's size (500 px is not even a multiple of a ViT's patch).
        var inputSize = o.InputSize > 0 ? o.InputSize : sourceSize > 32 && modelInputSize > 0 ? modelInputSize : sourceSize;
        // A checkpoint's recorded statistics (vkd eval) beat the dataset's defaults.
        var normalization = o.NormalizationMean is { Count: > 0 } mean && o.NormalizationStd is { Count: > 0 } std
            ? new Normalization(mean, std) : spec.DefaultNormalization();
        var channels = spec.Channels;

        // Small images (<= 32 px, as stored) get the CIFAR-style recipe (padded random crop + flip, as the PyTorch
        // anchor); larger ones the VkD repository's aug_generator (RRC + flip + 3-Augment + ColorJitter 0.3), also when
        // the network input is small: a padded 32 px crop of a 500 px photo would be a random patch of it.
        var augment = inputSize <= 32 && sourceSize <= 32
            ? new TrainAugmentOptions
            {
                InputSize = inputSize,
                AutoAugment = null,
                ColorJitter = 0,
                RandomErasingProbability = 0,
                CropPadding = 2,
                Normalization = normalization,
            }
            : TrainAugmentOptions.VkDThreeAugment(inputSize) with
            {
                Normalization = normalization,
                SmallImageRandomCrop = false,
                ScaleMin = o.ScaleMin,
                ScaleMax = o.ScaleMax,
                ThreeAugment = !o.NoThreeAugment,
            };
        LoaderBatchSource TrainLoader(IImageDataset set, TrainAugmentOptions a) => new(new BatchLoader(set, TransformPipelines.Train(a), o.BatchSize,
            shuffle: true, dropLast: true, seed: o.Seed, numWorkers: Math.Max(0, o.NumWorkers), rank: rank, worldSize: worldSize,
            badImages: o.SkipBadImages ? BadImagePolicy.Substitute : BadImagePolicy.Fail,
            augmentationDraws: string.IsNullOrEmpty(o.TeacherCache) ? 0 : o.TeacherCacheDraws), set);
        var evalBatch = Math.Max(1, (int)(1.5 * o.BatchSize));
        StridedShard? evalShard = null;
        if (shardEval && worldSize > 1)
        {
            if (val.Count < worldSize)
            {
                throw new ArgumentException($"The evaluation set has {val.Count} images, fewer than the {worldSize} ranks it is sharded over.");
            }
            // Whole evaluation batches per rank, so each batch (and its logits and loss sum) is the single process's;
            // smaller blocks only when the set has fewer batches than ranks, which would leave a rank with nothing.
            var block = Math.Min(evalBatch, (val.Count + worldSize - 1) / worldSize);
            val = evalShard = new StridedShard(val, rank, worldSize, block);
        }
        var evalLoader = new BatchLoader(val, TransformPipelines.Eval(inputSize, normalization: normalization), evalBatch,
            shuffle: false, dropLast: false, seed: o.Seed, numWorkers: Math.Max(0, o.NumWorkers),
            badImages: o.SkipBadImages ? BadImagePolicy.Drop : BadImagePolicy.Fail);
        return new DataSources(spec, TrainLoader(train, augment), new LoaderBatchSource(evalLoader, val), inputSize, channels, bad)
        {
            TrainImageSize = inputSize,
            Normalization = normalization,
            _trainSet = train,
            EvalShard = evalShard,
            _augment = augment,
            _trainLoader = TrainLoader,
        };
    }

    /// <summary>Turns <c>--data-set</c>/<c>--data-path</c> into a spec; <c>auto</c> detects IDX folders and digits
    /// CSVs, and otherwise reads the path as a spec string (<c>[kind:]path[?options]</c>, default: image folder).</summary>
    public static DatasetSpec ResolveSpec(string dataSet, string dataPath)
    {
        if (string.IsNullOrEmpty(dataPath) && (string.IsNullOrEmpty(dataSet) || dataSet == "auto"))
        {
            throw new ArgumentException("No data given: pass --data-path (and --data-set, or let 'auto' detect the kind).");
        }
        if (!string.IsNullOrEmpty(dataSet) && !dataSet.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return DatasetSpec.FromArgs(dataSet, dataPath);
        }
        if (Directory.Exists(dataPath))
        {
            var files = Directory.GetFiles(dataPath).Select(Path.GetFileName).ToArray();
            if (files.Any(f => f!.StartsWith("train-images-idx3-ubyte", StringComparison.Ordinal)))
            {
                var kind = dataPath.Contains("fashion", StringComparison.OrdinalIgnoreCase) ? "fashion-mnist" : "mnist";
                return DatasetSpec.FromArgs(kind, dataPath);
            }
            if (!Directory.Exists(Path.Combine(dataPath, "train")) && !Directory.Exists(Path.Combine(dataPath, "val")))
            {
                throw new ArgumentException($"--data-path '{dataPath}' holds no dataset: expected IDX files (train-images-idx3-ubyte[.gz], ...) or train/ and val/ class folders.");
            }
        }
        else if (File.Exists(dataPath) && dataPath.EndsWith(".csv.gz", StringComparison.OrdinalIgnoreCase))
        {
            return DatasetSpec.FromArgs("digits", dataPath);
        }
        else if (!dataPath.Contains(':'))
        {
            throw new ArgumentException($"--data-path '{dataPath}' does not exist.");
        }
        return DatasetSpec.Parse(dataPath);
    }
}
