using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using VkD.Data.Datasets;
using VkD.Distillation.Normalization;
using VkD.Distillation.Teachers;
using VkD.Generation.Augmentation;
using VkD.Generation.Evaluation;
using VkD.Generation.Models;
using VkD.Training.Logging;
using VkD.Training.Loop;
using VkD.Training.Options;
using VkD.Training.Sessions;
using VkD.Training.Tasks;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Generation.Training;

/// <summary>Everything a <c>vkd gan train|distill</c> run is built from (the CLI's flags). Defaults are the
/// reference's CIFAR recipe except where the machine forces otherwise (say so in the run's summary).</summary>
public sealed record GanRunOptions
{
    /// <summary>Dataset root (IDX files, image folder with train/ and val/).</summary>
    public string DataPath { get; init; } = "";

    /// <summary>Dataset kind; <c>auto</c> detects it.</summary>
    public string DataSet { get; init; } = "auto";

    /// <summary>Fraction of the training set used (0.1, 0.2, 1.0): a class-balanced subset drawn with <see cref="DataSeed"/>.</summary>
    public double DataFraction { get; init; } = 1.0;

    /// <summary>Seed of the subset draw, fixed across run seeds so every seed trains on the same images.</summary>
    public long DataSeed { get; init; }

    /// <summary>Image channels for G and D: 0 keeps the data's (1 for MNIST), 3 expands grey.</summary>
    public int Channels { get; init; }

    /// <summary>Flip real images left-right at random (<c>--mirror_augment</c>).</summary>
    public bool Mirror { get; init; } = true;

    /// <summary>Channel multiplier of G and D (64 in the reference).</summary>
    public int Ch { get; init; } = 64;

    /// <summary>Noise dimension.</summary>
    public int DimZ { get; init; } = 128;

    /// <summary>Spectral normalisation style.</summary>
    public SpectralNormStyle SpectralNorm { get; init; } = SpectralNormStyle.BigGan;

    /// <summary>The GAN recipe (batch, D steps, Adam, DiffAugment, LeCam).</summary>
    public GanTrainingOptions Gan { get; init; } = new();

    /// <summary>Epochs over the (sub)set; ignored when <see cref="Iterations"/> is set.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>G steps of the run (the reference counts iterations); rounded up to whole epochs. 0 uses <see cref="Epochs"/>.</summary>
    public long Iterations { get; init; }

    /// <summary>Iterations per training epoch, the unit of evaluation, epoch checkpoints and plots; 0: one pass over
    /// the (sub)set. Batches continue across passes (BigGAN's multi-epoch sampler), so any length is exact.</summary>
    public int EpochIterations { get; init; }

    /// <summary>Keep an EMA of G (BigGAN's rule: <see cref="GanTrainingOptions.EmaDecay"/> from
    /// <see cref="GanTrainingOptions.EmaStart"/>).</summary>
    public bool Ema { get; init; } = true;

    /// <summary>Distillation teacher (<c>--teacher</c>: zoo name or <c>onnx:PATH</c>); empty trains without distillation.</summary>
    public string Teacher { get; init; } = "";

    /// <summary>Teacher weights for zoo teachers.</summary>
    public string TeacherPath { get; init; } = "";

    /// <summary>Image side the teacher gets (0: its own, else the data's native side).</summary>
    public int TeacherInputSize { get; init; }

    /// <summary>How the teacher's input is normalised: <c>imagenet</c> (three channels, ImageNet mean/std: ONNX encoders),
    /// <c>data</c> (the dataset's channels and statistics: a teacher trained on this data), <c>auto</c> (imagenet for
    /// <c>onnx:</c>, else data).</summary>
    public string TeacherNormalize { get; init; } = "auto";

    /// <summary>Teacher-feature normalisation: <c>whiten</c> (ZCA), <c>whiten_cholesky</c>, <c>layernorm</c>, <c>none</c>.</summary>
    public string TeacherNorm { get; init; } = "whiten";

    /// <summary>Whitening shrinkage towards <c>(tr C / D) I</c>.</summary>
    public double Shrinkage { get; init; } = 0.1;

    /// <summary>Projector kind.</summary>
    public string Projector { get; init; } = "auto";

    /// <summary>Weight of each distillation term.</summary>
    public double DistillWeight { get; init; } = 1.0;

    /// <summary>FID/KID feature network: a zoo name (with <see cref="FidWeights"/>) or <c>onnx:PATH</c>; empty: the
    /// shipped domain classifier of the data (<see cref="ShippedFidNetwork"/>; none for data without one); <c>none</c>:
    /// no FID during training.</summary>
    public string FidFeatures { get; init; } = "";

    /// <summary>Weights of a zoo FID network.</summary>
    public string FidWeights { get; init; } = "";

    /// <summary>Image side the FID network gets (0: its own, else native).</summary>
    public int FidInputSize { get; init; }

    /// <summary>How the FID network's input is normalised (as <see cref="TeacherNormalize"/>; <c>auto</c>: data).</summary>
    public string FidNormalize { get; init; } = "auto";

    /// <summary>Real (test-split) images of the FID reference, class-balanced (0: all).</summary>
    public int FidReal { get; init; } = 10_000;

    /// <summary>Evaluation settings (samples, KID subsets).</summary>
    public GanEvaluationOptions Evaluation { get; init; } = new();

    /// <summary>Cache file of the real features (default <c>&lt;output&gt;/fid-reference.pth</c>).</summary>
    public string FidCache { get; init; } = "";

    /// <summary>Evaluate every N epochs (the last always).</summary>
    public int EvalEvery { get; init; } = 1;

    /// <summary>Keep a numbered checkpoint every N epochs.</summary>
    public int SaveEvery { get; init; } = 20;

    /// <summary>Mid-epoch checkpoint every N iterations (0: off).</summary>
    public int SaveEveryIters { get; init; }

    /// <summary>Output folder.</summary>
    public string OutputDir { get; init; } = "";

    /// <summary>Checkpoint to resume from, or <c>auto</c>.</summary>
    public string Resume { get; init; } = "";

    /// <summary>Seed of initialisation, noise, augmentation and batch order.</summary>
    public int Seed { get; init; }

    /// <summary>Intra-op threads (0: TorchSharp's default).</summary>
    public int Threads { get; init; }

    /// <summary>Device (<c>cpu</c>, <c>cuda</c>).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>True when a teacher is given.</summary>
    public bool Distills => Teacher.Length > 0;
}

/// <summary>What a GAN run produced.</summary>
/// <param name="Loop">The loop's result (final and best FID, steps, time).</param>
/// <param name="Iterations">G steps per epoch × epochs.</param>
/// <param name="TrainImages">Real training images used.</param>
public sealed record GanRunResult(LoopResult Loop, long Iterations, int TrainImages);

/// <summary>
/// Builds and runs GAN training from <see cref="GanRunOptions"/> (what <c>vkd gan train</c> and <c>vkd gan distill</c>
/// call): the data (seeded class-balanced fraction, 32×32), the teacher and the FID network through
/// <see cref="TeacherFactory"/>, the cached real reference, the <see cref="GanTask"/> and the one training loop; then
/// the FID plot and the final sample grid.
/// </summary>
public static class GanSession
{
    /// <summary>File of the FID-over-epochs plot in the run folder.</summary>
    public const string FidPlot = "fid.png";

    /// <summary>File of the final sample grid (EMA generator when kept).</summary>
    public const string FinalGrid = "samples.png";

    /// <summary>Trains (or resumes) the run of <paramref name="o"/>.</summary>
    public static GanRunResult Train(GanRunOptions o, ITrainingObserver? observer = null, CancellationToken stop = default, long? stopAfterSteps = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        observer ??= NullTrainingObserver.Instance;
        Validate(o);
        TrainingSession.EnsureRegistered();
        if (o.Threads > 0)
        {
            set_num_threads(o.Threads);
        }
        var device = TrainingDevice.Resolve(o.Device);
        var spec = DataSources.ResolveSpec(o.DataSet, o.DataPath);
        var trainSet = OpenSplit(spec, DataSplit.Train);
        if (o.DataFraction < 1.0)
        {
            trainSet = BalancedSubset.Draw(trainSet, Math.Max(1, (int)Math.Round(o.DataFraction * trainSet.Count)), (ulong)o.DataSeed);
        }
        var images = new GanImageSet(trainSet, o.Channels);
        observer.OnMessage(string.Create(CultureInfo.InvariantCulture,
            $"Data: {images.Count} training images ({o.DataFraction:P0} of {spec}), {images.NumClasses} classes, {images.NativeSize}px -> 32px, {images.Channels} channel(s)."));
        var config = new BigGanConfig { Ch = o.Ch, DimZ = o.DimZ, NumClasses = images.NumClasses, Channels = images.Channels, SpectralNorm = o.SpectralNorm };
        var fid = ResolveFidNetwork(o, spec);
        if (fid is not null && o.Distills)
        {
            EnsureEvaluatorIsNotTeacher(o, fid);
        }

        GanImageAdapter? teacherAdapter = null, fidAdapter = null;
        using var teacher = o.Distills ? OpenNetwork(o.Teacher, o.TeacherPath, images, spec, o.TeacherInputSize, o.TeacherNormalize, out teacherAdapter) : null;
        GanDistillationSetup? distill = null;
        if (teacher is not null)
        {
            distill = new GanDistillationSetup
            {
                Teacher = teacher,
                TeacherInput = teacherAdapter!,
                TeacherNormalization = TeacherNormalization(o.TeacherNorm, o.Shrinkage),
                Projector = o.Projector,
                Weight = o.DistillWeight,
            };
            observer.OnMessage($"Distilling D from {o.Teacher} ({teacher.FeatureDim}-d features, fed {teacherAdapter!.OutputSize}px x {teacherAdapter.OutputChannels}), teacher norm {o.TeacherNorm}.");
        }
        using var fidNetwork = fid is null ? null : OpenNetwork(fid.Features, fid.Weights, images, spec, o.FidInputSize, o.FidNormalize, out fidAdapter, fid.Channels);
        RealFeatureReference? reference = null;
        GanEvaluator? evaluator = null;
        if (fidNetwork is not null)
        {
            observer.OnMessage($"FID/KID features: {fid!.Description}.");
            reference = RealReference(o, fid, spec, fidNetwork, fidAdapter!, images.Channels, observer);
            evaluator = new GanEvaluator(fidNetwork, fidAdapter!, reference, o.Evaluation);
        }
        else
        {
            observer.OnMessage(o.FidFeatures.Length == 0
                ? $"No shipped FID network for {spec.Kind} data and no --fid-features: training without FID/KID (sample grids only); evaluate later with vkd gan eval --fid-features."
                : "--fid-features none: training without FID/KID (sample grids only).");
        }
        try
        {
            random.manual_seed(o.Seed);
            var gan = o.Gan with { GridFolder = o.OutputDir.Length > 0 ? o.OutputDir : null };
            using var task = new GanTask(config, gan, distill, evaluator, device);
            var source = new GanBatchSource(images, task.ImagesPerBatch, o.Seed, o.Mirror, o.EpochIterations);
            if (source.BatchesPerEpoch == 0)
            {
                throw new ArgumentException($"{images.Count} training images are fewer than one iteration's {task.ImagesPerBatch} (D steps x batch size).");
            }
            var epochs = o.Iterations > 0 ? (int)((o.Iterations + source.BatchesPerEpoch - 1) / source.BatchesPerEpoch) : o.Epochs;
            var loopOptions = new TrainingOptions
            {
                Epochs = epochs,
                BatchSize = task.ImagesPerBatch,
                Lr = o.Gan.GLr,
                MinLr = o.Gan.GLr,
                WarmupEpochs = 0,
                WeightDecay = 0,
                Seed = o.Seed,
                SaveEvery = o.SaveEvery,
                SaveEveryIters = o.SaveEveryIters,
                StudentEma = o.Ema,
                OutputDir = o.OutputDir,
                Resume = o.Resume,
                EvalEvery = o.EvalEvery,
                Threads = o.Threads,
                Device = o.Device,
                DataPath = o.DataPath,
                DataSet = o.DataSet,
                Teacher = o.Teacher,
                TeacherPath = o.TeacherPath,
                Norm = o.Distills ? o.TeacherNorm : "none",
                Projector = o.Projector,
                Alpha = o.DistillWeight,
                StudentModel = task.ModelName,
            };
            var profile = new StepProfile();
            var loop = new TrainingLoop<GanBatch>(new LoopSetup<GanBatch>
            {
                Profile = profile,
                Task = task,
                Train = source,
                Options = loopOptions,
                Observer = observer,
                Stop = stop,
                StopAfterSteps = stopAfterSteps,
                EvalCount = reference is null ? null : (int)reference.Features.shape[0],
                Metadata = Metadata(o, task, images, fid),
            });
            var result = loop.Run();
            if (profile.Steps > 0)
            {
                observer.OnMessage(profile.Describe());
            }
            if (result.Completed && o.OutputDir.Length > 0)
            {
                WriteFidPlot(o.OutputDir);
                // The EMA copy lives inside the loop; its final weights are in the last checkpoint.
                using var ema = o.Ema ? GanCheckpoint.LoadGenerator(Path.Combine(o.OutputDir, RunFiles.LatestCheckpoint), ema: true) : null;
                using var grid = GanSampler.ClassGrid(ema ?? task.Generator, o.Gan.GridPerClass, o.Gan.GridSeed);
                SampleGrid.Write(Path.Combine(o.OutputDir, FinalGrid), grid, o.Gan.GridPerClass);
            }
            return new GanRunResult(result, (long)epochs * source.BatchesPerEpoch, images.Count);
        }
        finally
        {
            reference?.Dispose();
        }
    }

    /// <summary>FID and KID of the generator in <paramref name="checkpoint"/> (what <c>vkd gan eval</c> calls).</summary>
    public static MetricSet Evaluate(GanRunOptions o, string checkpoint, bool ema, ITrainingObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        observer ??= NullTrainingObserver.Instance;
        TrainingSession.EnsureRegistered();
        if (o.Threads > 0)
        {
            set_num_threads(o.Threads);
        }
        using var generator = GanCheckpoint.LoadGenerator(checkpoint, ema);
        var spec = DataSources.ResolveSpec(o.DataSet, o.DataPath);
        var fid = ResolveFidNetwork(o, spec) ?? throw new ArgumentException(o.FidFeatures.Length == 0
            ? $"No shipped FID network for {spec.Kind} data (there is one for {string.Join(", ", ShippedFidNetwork.Datasets)}): give --fid-features (a zoo model with --fid-weights, or onnx:PATH)."
            : "--fid-features none: vkd gan eval needs a feature network.");
        var probe = new GanImageSet(new DatasetSubset(OpenSplit(spec, DataSplit.Val), [0]), generator.Config.Channels);
        if (probe.NumClasses != generator.Config.NumClasses)
        {
            throw new ArgumentException($"The generator in '{checkpoint}' has {generator.Config.NumClasses} classes, the data at '{o.DataPath}' {probe.NumClasses}.");
        }
        observer.OnMessage($"FID/KID features: {fid.Description}.");
        using var network = OpenNetwork(fid.Features, fid.Weights, probe, spec, o.FidInputSize, o.FidNormalize, out var adapter, fid.Channels);
        using var reference = RealReference(o, fid, spec, network, adapter!, generator.Config.Channels, observer);
        return new GanEvaluator(network, adapter!, reference, o.Evaluation).Evaluate(generator);
    }

    /// <summary>Writes a class grid (<paramref name="perClass"/> samples per class, one row per class) of the
    /// generator in <paramref name="checkpoint"/> to <paramref name="outputPng"/> (what <c>vkd gan sample</c> calls).</summary>
    public static void Sample(string checkpoint, string outputPng, bool ema = false, int perClass = 10, long seed = 77)
    {
        using var generator = GanCheckpoint.LoadGenerator(checkpoint, ema);
        using var grid = GanSampler.ClassGrid(generator, perClass, seed);
        SampleGrid.Write(outputPng, grid, perClass);
    }

    /// <summary>The teacher-feature normalisation named <paramref name="name"/>.</summary>
    public static IFeatureNormalization TeacherNormalization(string name, double shrinkage)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "whiten" or "whiten_zca" or "zca" => new Whitening(WhiteningMethod.Zca, shrinkage, ShrinkageTarget.ScaledIdentity),
            "whiten_cholesky" or "cholesky" => new Whitening(WhiteningMethod.Cholesky, shrinkage, ShrinkageTarget.ScaledIdentity),
            "layernorm" or "layer_norm" or "ln" => new LayerStandardization(),
            "none" => new IdentityNormalization(),
            _ => throw new ArgumentException($"--teacher-norm {name}: use whiten (ZCA), whiten_cholesky, layernorm or none."),
        };
    }

    /// <summary>Writes <see cref="FidPlot"/> (FID, and the EMA's, against the epoch) from the run's epochs.csv; false
    /// when there is no FID to draw.</summary>
    public static bool WriteFidPlot(string outputDir)
    {
        var path = Path.Combine(outputDir, RunFiles.EpochsCsv);
        if (!File.Exists(path))
        {
            return false;
        }
        var rows = CsvLog.Read(path);
        static double P(string? s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
        var series = new[] { "fid", "ema_fid" }
            .Select(c => (Name: c, Points: rows.Select(r => (X: P(r.GetValueOrDefault("epoch")) + 1, Y: P(r.GetValueOrDefault(c)))).Where(p => double.IsFinite(p.Y)).ToArray()))
            .Where(s => s.Points.Length > 0)
            .ToList();
        if (series.Count == 0)
        {
            return false;
        }
        TrainingPlots.EnsureFont();
        var plot = new ScottPlot.Plot();
        plot.Title("FID (lower is better)");
        plot.XLabel("epoch");
        plot.YLabel("FID");
        foreach (var (name, points) in series)
        {
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            line.LegendText = name == "fid" ? "G" : "EMA of G";
            line.MarkerSize = 5;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.ShowLegend(ScottPlot.Edge.Right);
        plot.SavePng(Path.Combine(outputDir, FidPlot), 900, 450);
        return true;
    }

    private static void Validate(GanRunOptions o)
    {
        if (o.DataFraction is not (> 0 and <= 1))
        {
            throw new ArgumentException($"--data-fraction must be in (0, 1], got {o.DataFraction}.");
        }
        if (o.Iterations <= 0 && o.Epochs <= 0)
        {
            throw new ArgumentException("Give --iterations or --epochs (> 0).");
        }
        if (o.EpochIterations < 0)
        {
            throw new ArgumentException($"--epoch-iterations must be >= 0 (0: one pass over the data), got {o.EpochIterations}.");
        }
        if (o.Channels is not (0 or 1 or 3))
        {
            throw new ArgumentException($"--channels must be 1 or 3 (0: the data's), got {o.Channels}.");
        }
    }

    private static IImageDataset OpenSplit(DatasetSpec spec, DataSplit split)
    {
        try
        {
            return spec.Open(split);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            throw new ArgumentException($"No usable {spec.Kind} data at --data-path '{spec.Path}': {e.Message}", e);
        }
    }

    /// <summary>The FID/KID feature network a run uses: the flag's, or the shipped domain classifier of the data.</summary>
    /// <param name="Features">Zoo name or <c>onnx:PATH</c>.</param>
    /// <param name="Weights">Weights of a zoo network.</param>
    /// <param name="Channels">Input channels it needs (0: the data's).</param>
    /// <param name="Description">What it is, for messages.</param>
    private sealed record FidNetwork(string Features, string Weights, int Channels, string Description);

    // The flag's network, the shipped domain classifier when the flag is empty, or null (none, or nothing shipped).
    private static FidNetwork? ResolveFidNetwork(GanRunOptions o, DatasetSpec spec)
    {
        if (o.FidFeatures.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (o.FidFeatures.Length > 0)
        {
            return new FidNetwork(o.FidFeatures, o.FidWeights, 0, o.FidWeights.Length > 0 ? $"{o.FidFeatures} ({o.FidWeights})" : o.FidFeatures);
        }
        return ShippedFidNetwork.For(spec.Kind) is { } shipped
            ? new FidNetwork(shipped.Model, shipped.WeightsPath, shipped.Channels, $"the shipped {spec.Kind} classifier {shipped.Model} ({shipped.WeightsPath}), pooled penultimate features")
            : null;
    }

    // The teacher would grade its own pupil: refuse the same network file (path, or a byte-identical copy) or, for
    // networks without a file, the same name.
    private static void EnsureEvaluatorIsNotTeacher(GanRunOptions o, FidNetwork fid)
    {
        var teacherFile = NetworkFile(o.Teacher, o.TeacherPath);
        var fidFile = NetworkFile(fid.Features, fid.Weights);
        var same = teacherFile is not null && fidFile is not null
            ? SameFile(teacherFile, fidFile)
            : teacherFile is null && fidFile is null && o.Teacher.Equals(fid.Features, StringComparison.OrdinalIgnoreCase);
        if (same)
        {
            throw new ArgumentException($"The distillation teacher ({o.Teacher}{(teacherFile is null ? "" : ", " + teacherFile)}) is also the FID/KID feature network " +
                $"({fid.Description}): the evaluator must be a different network (it would grade its own pupil); give another --fid-features or another teacher.");
        }
    }

    private static string? NetworkFile(string features, string weights)
    {
        if (features.StartsWith("onnx:", StringComparison.OrdinalIgnoreCase))
        {
            var path = features[5..];
            var query = path.IndexOf('?', StringComparison.Ordinal);
            return query >= 0 ? path[..query] : path;
        }
        return weights.Length > 0 ? weights : null;
    }

    private static bool SameFile(string a, string b)
    {
        var (fa, fb) = (Path.GetFullPath(a), Path.GetFullPath(b));
        if (fa == fb)
        {
            return true;
        }
        if (!File.Exists(fa) || !File.Exists(fb) || new FileInfo(fa).Length != new FileInfo(fb).Length)
        {
            return false;
        }
        using var sa = File.OpenRead(fa);
        using var sb = File.OpenRead(fb);
        return SHA256.HashData(sa).AsSpan().SequenceEqual(SHA256.HashData(sb));
    }

    // A frozen network (teacher or FID features) and the adapter from GAN images to its input; channels > 0 fixes the
    // network's input channels (a shipped grey classifier evaluates a 3-channel G through luma).
    private static ITeacher OpenNetwork(string specText, string weights, GanImageSet images, DatasetSpec spec, int inputSize, string normalize, out GanImageAdapter? adapter,
        int channels = 0)
    {
        var isOnnx = specText.StartsWith("onnx:", StringComparison.OrdinalIgnoreCase);
        var mode = normalize.Trim().ToLowerInvariant();
        if (mode == "auto")
        {
            mode = isOnnx ? "imagenet" : "data";
        }
        var inChannels = mode == "imagenet" ? 3 : channels > 0 ? channels : images.Channels;
        var network = TeacherFactory.Create(new TeacherRequest(specText, weights, images.NumClasses, images.NativeSize, inChannels));
        try
        {
            var size = inputSize > 0 ? inputSize : network.InputSize > 0 ? network.InputSize : images.NativeSize;
            adapter = mode switch
            {
                "imagenet" => GanImageAdapter.ImageNet(images.NativeSize, size),
                "data" => DataAdapter(spec, images.NativeSize, inChannels, size),
                _ => throw new ArgumentException($"Input normalisation '{normalize}': use imagenet, data or auto."),
            };
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static GanImageAdapter DataAdapter(DatasetSpec spec, int nativeSize, int channels, int size)
    {
        var n = spec.DefaultNormalization();
        var mean = n.Mean.ToArray();
        var std = n.Std.ToArray();
        if (mean.Length != channels)
        {
            (mean, std) = (Enumerable.Repeat(mean[0], channels).ToArray(), Enumerable.Repeat(std[0], channels).ToArray());
        }
        return new GanImageAdapter(nativeSize, size, channels, mean, std);
    }

    private static RealFeatureReference RealReference(GanRunOptions o, FidNetwork fid, DatasetSpec spec, ITeacher network, GanImageAdapter adapter, int channels, ITrainingObserver observer)
    {
        var val = OpenSplit(spec, DataSplit.Val);
        if (o.FidReal > 0 && o.FidReal < val.Count)
        {
            val = BalancedSubset.Draw(val, o.FidReal, seed: 0);
        }
        var key = string.Create(CultureInfo.InvariantCulture,
            $"features={fid.Features}|weights={fid.Weights}|data={spec}|split=val|n={val.Count}|channels={channels}|in={adapter.OutputSize}x{adapter.OutputChannels}|mean={string.Join(",", adapter.Mean)}|std={string.Join(",", adapter.Std)}");
        var cache = o.FidCache.Length > 0 ? o.FidCache : o.OutputDir.Length > 0 ? Path.Combine(o.OutputDir, "fid-reference.pth") : "";
        if (cache.Length > 0 && RealFeatureReference.TryLoad(cache, key) is { } cached)
        {
            observer.OnMessage($"FID reference: {cached.Features.shape[0]} real images from {cache}.");
            return cached;
        }
        var reference = RealFeatureReference.Compute(new GanImageSet(val, channels), network, adapter, key, batchSize: o.Evaluation.BatchSize);
        if (cache.Length > 0)
        {
            reference.Save(cache);
        }
        observer.OnMessage($"FID reference: {reference.Features.shape[0]} real test images through {fid.Features} ({reference.Features.shape[1]}-d){(cache.Length > 0 ? ", cached in " + cache : "")}.");
        return reference;
    }

    private static Dictionary<string, object?> Metadata(GanRunOptions o, GanTask task, GanImageSet images, FidNetwork? fid)
    {
        var c = task.Config;
        return new Dictionary<string, object?>
        {
            ["command"] = o.Distills ? "gan distill" : "gan train",
            ["dataset"] = o.DataPath,
            ["data_fraction"] = o.DataFraction,
            ["train_images"] = (long)images.Count,
            ["teacher"] = o.Teacher,
            ["teacher_norm"] = o.Distills ? o.TeacherNorm : null,
            ["fid_features"] = fid?.Features,
            ["fid_weights"] = fid?.Weights,
            ["gan"] = new Dictionary<string, object?>
            {
                ["ch"] = (long)c.Ch,
                ["dim_z"] = (long)c.DimZ,
                ["classes"] = (long)c.NumClasses,
                ["channels"] = (long)c.Channels,
                ["native_size"] = (long)images.NativeSize,
                ["batch_size"] = (long)o.Gan.BatchSize,
                ["d_steps"] = (long)o.Gan.DSteps,
                ["epoch_iterations"] = (long)o.EpochIterations,
                ["diffaugment"] = o.Gan.Augment.ToString(),
                ["lecam"] = o.Gan.LeCamWeight,
                ["ema"] = o.Ema,
                ["ema_decay"] = o.Gan.EmaDecay,
                ["ema_start"] = o.Gan.EmaStart,
            },
        };
    }

    /// <summary>A one-line description of a finished run for the console.</summary>
    public static string Describe(GanRunResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Finished {r.Iterations} iterations ({r.Loop.EpochsDone} epochs over {r.TrainImages} images) in {r.Loop.Seconds:F1}s");
        if (r.Loop.Final is { } f)
        {
            sb.Append(CultureInfo.InvariantCulture, $" FID {f["fid"]:F2}, KID {f["kid"]:F4} ± {f["kid_std"]:F4}");
        }
        if (r.Loop.FinalEma is { } e)
        {
            sb.Append(CultureInfo.InvariantCulture, $"; EMA FID {e["fid"]:F2}");
        }
        if (r.Loop.Best is { } b)
        {
            sb.Append(CultureInfo.InvariantCulture, $"; best FID {b["fid"]:F2} (epoch {r.Loop.BestEpoch + 1})");
        }
        return sb.Append('.').ToString();
    }
}
