using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using VkD.Detection.Data;
using VkD.Detection.Models;
using VkD.Interop.Checkpoints;
using VkD.Training.Distributed;
using static TorchSharp.torch;

namespace VkD.Detection.Evaluation;

/// <summary>What <see cref="VidtEvaluation.Run(VidtEvaluationOptions, Action{VidtEvaluationProgress}?, CancellationToken)"/>
/// evaluates and where it writes.</summary>
public sealed record VidtEvaluationOptions
{
    /// <summary>ViDT checkpoint (<c>--resume</c>): ViDT's release layout or a bare state dict.</summary>
    public required string CheckpointPath { get; init; }

    /// <summary>Dataset folder (<c>--coco_path</c>): COCO's layout (<c>annotations/instances_val2017.json</c> and
    /// <c>val2017/</c>), or <c>vkd data make-detection</c>'s (<c>annotations.json</c> with the images under it).</summary>
    public required string CocoPath { get; init; }

    /// <summary>Ground-truth JSON to use instead of the one found under <see cref="CocoPath"/>; its images are read
    /// from <see cref="ImageRoot"/> (default: <see cref="CocoPath"/>).</summary>
    public string? AnnotationsPath { get; init; }

    /// <summary>Folder the images' <c>file_name</c> are relative to, when <see cref="AnnotationsPath"/> is given.</summary>
    public string? ImageRoot { get; init; }

    /// <summary>The model; null builds the one the checkpoint's shapes describe (<see cref="VidtCheckpoint.Inspect(string)"/>),
    /// with <see cref="NHeads"/> and <see cref="DecNPoints"/>.</summary>
    public VidtConfig? Config { get; init; }

    /// <summary>Decoder heads when <see cref="Config"/> is null (<c>--nheads</c>, 8).</summary>
    public int NHeads { get; init; } = 8;

    /// <summary>Deformable sampling points when <see cref="Config"/> is null (<c>--dec_n_points</c>, 4).</summary>
    public int DecNPoints { get; init; } = 4;

    /// <summary>Shortest side of ViDT's val resize (<c>--eval_size</c>, 800; the longest is capped at size · 1333 / 800).</summary>
    public int EvalSize { get; init; } = 800;

    /// <summary>Images per padded batch (<c>--batch_size</c>; ViDT evaluates with 2 per GPU).</summary>
    public int BatchSize { get; init; } = 2;

    /// <summary>Only the first N images in id order (0: all).</summary>
    public int MaxImages { get; init; }

    /// <summary>Where the COCO results JSON goes (null: not written).</summary>
    public string? ResultsPath { get; init; }

    /// <summary>Where the 12 numbers go as JSON <c>{name: value}</c> (null: not written).</summary>
    public string? StatsPath { get; init; }

    /// <summary>Device (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Throws <see cref="ArgumentException"/> for values out of range and <see cref="FileNotFoundException"/> /
    /// <see cref="DirectoryNotFoundException"/> for inputs that do not exist, naming them.</summary>
    public void Validate()
    {
        if (EvalSize < 32)
        {
            throw new ArgumentException($"--eval_size must be at least 32 px (ViDT's smallest input), got {EvalSize}.");
        }
        if (BatchSize <= 0)
        {
            throw new ArgumentException($"--batch_size must be positive, got {BatchSize}.");
        }
        if (MaxImages < 0)
        {
            throw new ArgumentException($"The image limit must be 0 (all) or positive, got {MaxImages}.");
        }
        if (NHeads <= 0 || DecNPoints <= 0)
        {
            throw new ArgumentException($"--nheads and --dec_n_points must be positive, got {NHeads} and {DecNPoints}.");
        }
        if (!File.Exists(CheckpointPath))
        {
            throw new FileNotFoundException($"Checkpoint (--resume) not found: {CheckpointPath}", CheckpointPath);
        }
        VidtEvaluation.ResolveDataset(CocoPath, AnnotationsPath, ImageRoot);
    }
}

/// <summary>Progress of an evaluation after a batch.</summary>
/// <param name="ImagesDone">Images through the model so far.</param>
/// <param name="ImagesTotal">Images to evaluate.</param>
/// <param name="Elapsed">Time since the first batch started loading.</param>
public sealed record VidtEvaluationProgress(int ImagesDone, int ImagesTotal, TimeSpan Elapsed)
{
    /// <summary>Throughput so far (loading and model).</summary>
    public double ImagesPerSecond => ImagesDone / Math.Max(1e-9, Elapsed.TotalSeconds);

    /// <summary>Time left at the throughput so far.</summary>
    public TimeSpan Remaining => ImagesDone == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((ImagesTotal - ImagesDone) / ImagesPerSecond);
}

/// <summary>Outcome of a ViDT evaluation.</summary>
/// <param name="Evaluation">The COCO bbox evaluation (<see cref="CocoEvalResult.FormatSummary"/>: the 12 lines).</param>
/// <param name="Detections">The detections, in image order, top 100 per image (ViDT's <c>PostProcess</c>).</param>
/// <param name="Images">Images evaluated.</param>
/// <param name="InferenceSeconds">Loading and model time over all batches.</param>
/// <param name="Config">The model that ran.</param>
/// <param name="Report">How the checkpoint loaded (exact: a strict load).</param>
/// <param name="AnnotationsPath">The ground truth used.</param>
/// <param name="ImageRoot">The image folder used.</param>
public sealed record VidtEvaluationResult(CocoEvalResult Evaluation, IReadOnlyList<CocoDetection> Detections, int Images,
    double InferenceSeconds, VidtConfig Config, LoadReport Report, string AnnotationsPath, string ImageRoot)
{
    /// <summary>Images per second through loading and the model (all ranks together when sharded).</summary>
    public double ImagesPerSecond => Images / Math.Max(1e-9, InferenceSeconds);

    /// <summary>Processes the val set was sharded over (1: a single process).</summary>
    public int Ranks { get; init; } = 1;

    /// <summary>False on ranks other than 0 of a sharded evaluation, which write nothing.</summary>
    public bool IsMain { get; init; } = true;
}

/// <summary>
/// ViDT's evaluation (<c>main.py --eval True</c> → <c>engine.evaluate</c>): the val pipeline (resize to
/// <c>eval_size</c>, ToTensor, Normalize, padded batches in image-id order), the model, <see cref="VidtPostProcess"/> at
/// each image's original size, and <see cref="CocoEvaluator"/> with pycocotools' 12 numbers.
/// </summary>
public static class VidtEvaluation
{
    /// <summary>The ground-truth JSON and the image folder of a dataset folder: COCO's layout
    /// (<c>annotations/instances_val2017.json</c>, <c>val2017/</c>, as ViDT's <c>datasets/coco.py</c>), else
    /// <c>vkd data make-detection</c>'s (<c>annotations.json</c>, images relative to the folder).</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither layout is there (the paths looked for are named).</exception>
    public static (string AnnotationsPath, string ImageRoot) ResolveDataset(string cocoPath, string? annotationsPath = null, string? imageRoot = null)
    {
        ArgumentNullException.ThrowIfNull(cocoPath);
        if (annotationsPath is not null)
        {
            if (!File.Exists(annotationsPath))
            {
                throw new FileNotFoundException($"Ground truth not found: {annotationsPath}", annotationsPath);
            }
            var root = imageRoot ?? cocoPath;
            if (!Directory.Exists(root))
            {
                throw new DirectoryNotFoundException($"Image folder not found: {root}");
            }
            return (annotationsPath, root);
        }
        if (!Directory.Exists(cocoPath))
        {
            throw new DirectoryNotFoundException($"COCO folder (--coco_path) not found: {cocoPath}");
        }
        var coco = Path.Combine(cocoPath, "annotations", "instances_val2017.json");
        if (File.Exists(coco))
        {
            var val = imageRoot ?? Path.Combine(cocoPath, "val2017");
            if (!Directory.Exists(val))
            {
                throw new DirectoryNotFoundException($"COCO images not found: {val} (next to {coco}).");
            }
            return (coco, val);
        }
        var generated = Path.Combine(cocoPath, "annotations.json");
        if (File.Exists(generated))
        {
            return (generated, imageRoot ?? cocoPath);
        }
        throw new FileNotFoundException(
            $"No ground truth under --coco_path {cocoPath}: looked for {coco} (COCO's layout, images in val2017/) and {generated} (vkd data make-detection's).", coco);
    }

    /// <summary>Loads the checkpoint, runs the val set through it, evaluates and writes the JSON files asked for. Started
    /// by <c>mpirun</c> as one of several processes, each rank predicts its whole batches of the val set, the detections
    /// are gathered in the single process's order and evaluated, and only rank 0 writes the files: the numbers are the
    /// single process's exactly.</summary>
    /// <param name="options">What to evaluate.</param>
    /// <param name="progress">Called after every batch, on the calling thread.</param>
    /// <param name="cancellationToken">Stops between batches (<see cref="OperationCanceledException"/>).</param>
    public static VidtEvaluationResult Run(VidtEvaluationOptions options, Action<VidtEvaluationProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var owned = DataParallel.FromEnvironment();
        owned?.Communicator.FinalizeAtExit = false;
        try
        {
            var result = RunOn(options, (IGradientSync?)owned ?? SingleProcessGradientSync.Instance, progress, cancellationToken);
            owned?.Communicator.FinalizeAtExit = true;
            return result;
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static VidtEvaluationResult RunOn(VidtEvaluationOptions options, IGradientSync sync, Action<VidtEvaluationProgress>? progress,
        CancellationToken cancellationToken)
    {
        var (annotations, imageRoot) = ResolveDataset(options.CocoPath, options.AnnotationsPath, options.ImageRoot);
        var gt = CocoDataset.Load(annotations);
        var (model, report) = VidtCheckpoint.LoadModel(options.CheckpointPath, options.Config, options.NHeads, options.DecNPoints);
        using (model)
        {
            var device = VkD.Training.Tasks.TrainingDevice.Resolve(options.Device);
            model.to(device);
            var clock = Stopwatch.StartNew();
            var detections = Predict(model, gt, imageRoot, options.EvalSize, options.BatchSize, options.MaxImages, device, progress, cancellationToken, sync);
            var seconds = clock.Elapsed.TotalSeconds;
            var evaluated = options.MaxImages > 0 ? Math.Min(options.MaxImages, gt.Images.Count) : gt.Images.Count;
            // Every rank holds all the detections and evaluates them alike (deterministic), so each returns the same result.
            var evaluation = Evaluate(gt, detections, options.MaxImages);
            if (!sync.IsMain)
            {
                return new VidtEvaluationResult(evaluation, detections, evaluated, seconds, model.Config, report, annotations, imageRoot) { Ranks = sync.WorldSize, IsMain = false };
            }
            if (options.ResultsPath is { } resultsPath)
            {
                CreateFolderOf(resultsPath);
                CocoResultsFile.Save(resultsPath, detections);
            }
            if (options.StatsPath is { } statsPath)
            {
                CreateFolderOf(statsPath);
                WriteStats(statsPath, evaluation);
            }
            return new VidtEvaluationResult(evaluation, detections, evaluated, seconds, model.Config, report, annotations, imageRoot) { Ranks = sync.WorldSize };
        }
    }

    /// <summary>Runs <paramref name="model"/> over the dataset's images in id order with ViDT's val pipeline and returns
    /// the top-100 detections per image at the original size. The model is switched to eval mode. With
    /// <paramref name="sync"/> of several ranks, rank r predicts the padded batches r, r + W, ... (whole batches, so
    /// each batch's tensors and outputs are the single process's) and every rank returns all the detections, gathered
    /// in the single process's order; every rank must call it.</summary>
    /// <exception cref="ArgumentException">An image is smaller than the model accepts after the resize (named).</exception>
    public static List<CocoDetection> Predict(VidtDetector model, CocoDataset groundTruth, string imageRoot, int evalSize = 800,
        int batchSize = 2, int maxImages = 0, Device? device = null, Action<VidtEvaluationProgress>? progress = null,
        CancellationToken cancellationToken = default, IGradientSync? sync = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        model.eval();
        var dataset = new CocoDetectionDataset(groundTruth, imageRoot, VidtTransforms.Val(evalSize));
        var total = maxImages > 0 ? Math.Min(maxImages, dataset.Count) : dataset.Count;
        var ranks = sync?.WorldSize ?? 1;
        var rank = sync?.Rank ?? 0;
        var batches = Enumerable.Range(0, (total + batchSize - 1) / batchSize)
            .Where(b => b % ranks == rank)
            .Select(b => Enumerable.Range(b * batchSize, Math.Min(batchSize, total - (b * batchSize))).ToArray()).ToArray();
        total = batches.Sum(b => b.Length);
        var detections = new List<CocoDetection>(total * 100);
        var perBatch = new List<int>(batches.Length);
        var clock = Stopwatch.StartNew();
        var done = 0;
        // The next batch decodes and resizes while the model runs on this one.
        Task<DetectionBatch>? next = batches.Length > 0 ? Task.Run(() => dataset.GetBatch(batches[0], seed: 0), cancellationToken) : null;
        try
        {
            for (var b = 0; b < batches.Length; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var batch = next!.GetAwaiter().GetResult();
                var following = b + 1;
                next = following < batches.Length ? Task.Run(() => dataset.GetBatch(batches[following], seed: 0), cancellationToken) : null;
                CheckSizes(model, batch, dataset);
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var images = device is null ? batch.Images : batch.Images.to(device);
                var mask = device is null ? batch.Mask : batch.Mask.to(device);
                using var outputs = model.forward(images, mask);
                var before = detections.Count;
                detections.AddRange(VidtPostProcess.ToCocoDetections(outputs.PredLogits, outputs.PredBoxes,
                    batch.Examples.Select(e => e.Target.OrigSize).ToArray(), batch.Examples.Select(e => e.Target.ImageId).ToArray()));
                perBatch.Add(detections.Count - before);
                done += batch.Examples.Count;
                progress?.Invoke(new VidtEvaluationProgress(done, total, clock.Elapsed));
            }
        }
        finally
        {
            // A batch still loading when the loop stops early is waited for and freed.
            if (next is not null)
            {
                try
                {
                    next.GetAwaiter().GetResult().Dispose();
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or InvalidDataException or ArgumentException)
                {
                    // The loop's own exception is the one to report.
                }
            }
        }
        return ranks == 1 ? detections : Gather(detections, perBatch, sync!);
    }

    /// <summary>Every rank's detections, batch by batch, put back in the single process's batch order (global batch b
    /// is rank b mod W's batch b / W). Doubles travel as their bits, so the gathered boxes and scores are exact.</summary>
    private static List<CocoDetection> Gather(List<CocoDetection> mine, List<int> perBatch, IGradientSync sync)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(perBatch.Count);
            foreach (var n in perBatch)
            {
                w.Write(n);
            }
            foreach (var d in mine)
            {
                w.Write(d.ImageId);
                w.Write(d.CategoryId);
                w.Write(d.Bbox.X);
                w.Write(d.Bbox.Y);
                w.Write(d.Bbox.Width);
                w.Write(d.Bbox.Height);
                w.Write(d.Score);
            }
        }
        var parts = sync.AllGather(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        var perRank = parts.Select(bytes =>
        {
            using var r = new BinaryReader(new MemoryStream(bytes));
            var counts = new int[r.ReadInt32()];
            for (var i = 0; i < counts.Length; i++)
            {
                counts[i] = r.ReadInt32();
            }
            var batches = counts.Select(n => Enumerable.Range(0, n).Select(_ => new CocoDetection(r.ReadInt64(), r.ReadInt64(),
                new BoxXywh(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble()), r.ReadDouble())).ToList()).ToList();
            return batches;
        }).ToList();
        var all = new List<CocoDetection>(perRank.Sum(p => p.Sum(b => b.Count)));
        for (var j = 0; perRank.Any(p => j < p.Count); j++)
        {
            foreach (var p in perRank)
            {
                if (j < p.Count)
                {
                    all.AddRange(p[j]);
                }
            }
        }
        return all;
    }

    /// <summary>COCO evaluation of <paramref name="detections"/>; with <paramref name="maxImages"/> &gt; 0 only the first
    /// images in id order count (pycocotools' <c>params.imgIds</c>).</summary>
    public static CocoEvalResult Evaluate(CocoDataset groundTruth, IReadOnlyList<CocoDetection> detections, int maxImages = 0)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        var parameters = maxImages > 0
            ? new CocoEvalParameters { ImageIds = groundTruth.Images.Select(i => i.Id).Order().Take(maxImages).ToList() }
            : null;
        return CocoEvaluator.Evaluate(groundTruth, detections, parameters);
    }

    /// <summary>Writes the 12 numbers as <c>{"AP": ..., ..., "ARl": ...}</c>, as <c>vkd detect eval --stats-json</c> does.</summary>
    public static void WriteStats(string path, CocoEvalResult evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        var stats = evaluation.Summary.ToDictionary(s => s.Name, s => s.Value);
        File.WriteAllText(path, JsonSerializer.Serialize(stats, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static void CheckSizes(VidtDetector model, DetectionBatch batch, CocoDetectionDataset dataset)
    {
        foreach (var example in batch.Examples)
        {
            var (h, w) = example.Target.Size;
            if (h < model.MinImageSide || w < model.MinImageSide)
            {
                var info = dataset.GroundTruth.GetImage(example.Target.ImageId);
                throw new ArgumentException(
                    $"Image {info.Id} ({info.FileName}, {info.Width}x{info.Height}) is {w}x{h} px after the val resize, smaller than ViDT's {model.MinImageSide} px: " +
                    "its aspect ratio is too extreme for --eval_size (the long side is capped at eval_size * 1333 / 800).");
            }
        }
    }

    private static void CreateFolderOf(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
    }
}
