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

    /// <summary>Class names of the dataset.</summary>
    public IReadOnlyList<string> ClassNames => _dataset.ClassNames;

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

/// <summary>The first <c>N</c> images of a dataset (for <c>--train-subset</c>/<c>--eval-subset</c> and quick runs).</summary>
public sealed class FirstImages(IImageDataset inner, int count) : IImageDataset
{
    /// <inheritdoc />
    public int Count { get; } = Math.Min(count, inner.Count);

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => inner.ClassNames;

    /// <inheritdoc />
    public int GetLabel(int index) => inner.GetLabel(Check(index));

    /// <inheritdoc />
    public Data.Imaging.ImageU8 LoadImage(int index) => inner.LoadImage(Check(index));

    /// <inheritdoc />
    public string Describe(int index) => inner.Describe(Check(index));

    private int Check(int index) => (uint)index < (uint)Count ? index : throw new ArgumentOutOfRangeException(nameof(index), index, $"Subset has {Count} images.");
}

/// <summary>The opened training and evaluation data of a run.</summary>
/// <param name="Spec">The dataset spec.</param>
/// <param name="Train">Training batches (shuffled, drop-last, augmented).</param>
/// <param name="Eval">Evaluation batches (fixed order, eval transform).</param>
/// <param name="InputSize">Network input side.</param>
/// <param name="Channels">Image channels.</param>
public sealed record DataSources(DatasetSpec Spec, LoaderBatchSource Train, LoaderBatchSource Eval, int InputSize, int Channels)
{
    /// <summary>Number of classes.</summary>
    public int NumClasses => Train.NumClasses;

    /// <summary>Opens the data named by <paramref name="o"/> (<c>--data-set</c>/<c>--data-path</c>) for this rank; with
    /// <paramref name="shardEval"/> the evaluation set is this rank's <see cref="StridedShard"/> of it.</summary>
    /// <exception cref="ArgumentException">Unknown dataset kind, or no data at the path (message names it).</exception>
    public static DataSources Open(TrainingOptions o, int rank = 0, int worldSize = 1, bool needTrain = true, bool shardEval = false)
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
            train = new FirstImages(train, o.TrainSubset);
        }
        if (o.EvalSubset > 0)
        {
            val = new FirstImages(val, o.EvalSubset);
        }
        if (train.Count == 0 || val.Count == 0)
        {
            throw new ArgumentException($"The dataset at '{spec.Path}' has {train.Count} training and {val.Count} evaluation images; both must be > 0.");
        }
        var first = val.LoadImage(0);
        var inputSize = o.InputSize > 0 ? o.InputSize : Math.Max(first.Height, first.Width);
        var normalization = spec.DefaultNormalization();
        var channels = spec.Channels;

        // Small images (<= 32 px) get the CIFAR-style recipe (padded random crop + flip, as the PyTorch anchor);
        // larger ones the VkD repository's aug_generator (RRC + flip + 3-Augment + ColorJitter 0.3).
        var augment = inputSize <= 32
            ? new TrainAugmentOptions
            {
                InputSize = inputSize,
                AutoAugment = null,
                ColorJitter = 0,
                RandomErasingProbability = 0,
                CropPadding = 2,
                Normalization = normalization,
            }
            : TrainAugmentOptions.VkDThreeAugment(inputSize) with { Normalization = normalization };
        var trainLoader = new BatchLoader(train, TransformPipelines.Train(augment), o.BatchSize, shuffle: true, dropLast: true,
            seed: o.Seed, numWorkers: Math.Max(0, o.NumWorkers), rank: rank, worldSize: worldSize);
        var evalBatch = Math.Max(1, (int)(1.5 * o.BatchSize));
        if (shardEval && worldSize > 1)
        {
            if (val.Count < worldSize)
            {
                throw new ArgumentException($"The evaluation set has {val.Count} images, fewer than the {worldSize} ranks it is sharded over.");
            }
            val = new StridedShard(val, rank, worldSize);
        }
        var evalLoader = new BatchLoader(val, TransformPipelines.Eval(inputSize, normalization: normalization), evalBatch,
            shuffle: false, dropLast: false, seed: o.Seed, numWorkers: Math.Max(0, o.NumWorkers));
        return new DataSources(spec, new LoaderBatchSource(trainLoader, train), new LoaderBatchSource(evalLoader, val), inputSize, channels);
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
