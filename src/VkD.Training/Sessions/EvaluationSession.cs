using System.Globalization;
using System.Text;
using System.Text.Json;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Training.Checkpoints;
using VkD.Training.Distributed;
using VkD.Training.Evaluation;
using VkD.Training.Logging;
using VkD.Training.Options;
using static TorchSharp.torch;

namespace VkD.Training.Sessions;

/// <summary>What <c>vkd eval</c> evaluates.</summary>
public sealed record EvalRequest
{
    /// <summary>Zoo model name; empty to take it from the checkpoint's <c>model</c> entry.</summary>
    public string Model { get; init; } = "";

    /// <summary>Checkpoint with the weights.</summary>
    public required string Checkpoint { get; init; }

    /// <summary>Evaluate the <c>student_ema</c> entry instead of <c>student</c>.</summary>
    public bool Ema { get; init; }

    /// <summary>Dataset kind (<c>--data-set</c>).</summary>
    public string DataSet { get; init; } = "auto";

    /// <summary>Dataset root (<c>--data-path</c>).</summary>
    public required string DataPath { get; init; }

    /// <summary>Input size (0: from the checkpoint, else the dataset's).</summary>
    public int InputSize { get; init; }

    /// <summary>Batch size of evaluation.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Loader threads.</summary>
    public int NumWorkers { get; init; } = 2;

    /// <summary>Only the first N images (0 = all).</summary>
    public int EvalSubset { get; init; }

    /// <summary>Write the metrics here as JSON (null: don't).</summary>
    public string? JsonPath { get; init; }

    /// <summary>Write one CSV row per image here (null: don't).</summary>
    public string? PredictionsPath { get; init; }
}

/// <summary>Result of <see cref="EvaluationSession.Run"/>.</summary>
/// <param name="Metrics">Top-1/top-5/loss.</param>
/// <param name="Model">The model name used.</param>
/// <param name="Report">How the weights loaded.</param>
public sealed record EvalOutcome(EvalMetrics Metrics, string Model, LoadReport Report)
{
    /// <summary>False on ranks other than 0 of a sharded evaluation (<c>mpirun -np N vkd eval</c>), which write and
    /// print nothing; the metrics are the whole set's on every rank.</summary>
    public bool IsMain { get; init; } = true;

    /// <summary>Processes the evaluation set was sharded over (1: a single process).</summary>
    public int Ranks { get; init; } = 1;
}

/// <summary><c>vkd eval</c>: loads a checkpoint into a zoo model and measures it on a dataset's evaluation split
/// with the same transform and head averaging as the trainer's per-epoch evaluation. Started by <c>mpirun</c> as one
/// of several processes, each rank evaluates its <see cref="StridedShard"/> (whole batches) and rank 0 writes the
/// results, bit-for-bit the single process's.</summary>
public static class EvaluationSession
{
    /// <summary>Column header of the predictions CSV.</summary>
    public const string PredictionsHeader = "index,source,label,pred,top5,label_name,pred_name";

    /// <summary>Runs the evaluation; <paramref name="progress"/> gets the number of images done.</summary>
    public static EvalOutcome Run(EvalRequest r, Action<int, int>? progress = null)
    {
        if (!File.Exists(r.Checkpoint))
        {
            throw new ArgumentException($"Checkpoint '{r.Checkpoint}' does not exist (pass --student-ckpt or --checkpoint).");
        }
        var (model, inputSize, facts) = ReadDefaults(r);
        TrainingSession.RequireModel(model, "--model");
        var options = new TrainingOptions
        {
            DataSet = r.DataSet,
            DataPath = r.DataPath,
            InputSize = r.InputSize > 0 ? r.InputSize : inputSize,
            BatchSize = Math.Max(1, (int)Math.Ceiling(r.BatchSize / 1.5)),
            NumWorkers = r.NumWorkers,
            EvalSubset = r.EvalSubset,
            // The statistics the model was trained with, when its checkpoint recorded them.
            NormalizationMean = facts?.Mean,
            NormalizationStd = facts?.Std,
        };
        var owned = DataParallel.FromEnvironment();
        IGradientSync sync = (IGradientSync?)owned ?? SingleProcessGradientSync.Instance;
        owned?.Communicator.FinalizeAtExit = false;
        try
        {
            var outcome = RunOn(r, model, options, sync, progress);
            // Every rank got here through the same collectives, so all can finalise.
            owned?.Communicator.FinalizeAtExit = true;
            return outcome;
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static EvalOutcome RunOn(EvalRequest r, string model, TrainingOptions options, IGradientSync sync,
        Action<int, int>? progress)
    {
        var data = DataSources.Open(options, sync.Rank, sync.WorldSize, needTrain: false, modelInputSize: ModelRegistry.Info(model).DefaultImgSize,
            shardEval: true);
        using var net = ModelRegistry.Create(model, new ModelOptions(data.NumClasses, data.InputSize, 0, data.Channels));
        var report = TrainingCheckpoint.LoadWeights(net, r.Checkpoint, r.Ema);

        // Each rank evaluates its shard; the rows and batch totals are gathered and put back in the single process's
        // order, so rank 0 writes what one process would (see ShardedClassificationMetrics.Gather).
        var rows = r.PredictionsPath is null ? null : new List<string>();
        var shard = data.EvalShard;
        var local = Evaluator.EvaluateBatches(net, data.Eval,
            rows is null ? null : p => rows.Add(string.Join(',',
                (shard?.InnerIndex(p.Index) ?? p.Index).ToString(CultureInfo.InvariantCulture), Csv(data.Eval.Describe(p.Index)),
                p.Label.ToString(CultureInfo.InvariantCulture), p.Top5[0].ToString(CultureInfo.InvariantCulture),
                string.Join(' ', p.Top5.Select(c => c.ToString(CultureInfo.InvariantCulture))),
                Csv(ClassName(data.Eval.ClassNames, p.Label)), Csv(ClassName(data.Eval.ClassNames, p.Top5[0])))),
            done => progress?.Invoke(done, data.Eval.Count));
        var (batches, ordered) = ShardedClassificationMetrics.Gather(local, rows, shard, sync);
        var metrics = EvalBatch.Total(batches);
        if (!sync.IsMain)
        {
            return new EvalOutcome(metrics, model, report) { IsMain = false, Ranks = sync.WorldSize };
        }
        if (r.PredictionsPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(r.PredictionsPath))!);
            using var predictions = new StreamWriter(r.PredictionsPath, false, new UTF8Encoding(false)) { NewLine = "\n" };
            predictions.WriteLine(PredictionsHeader);
            foreach (var row in ordered!)
            {
                predictions.WriteLine(row);
            }
        }
        if (r.JsonPath is not null)
        {
            var json = JsonSerializer.Serialize(new
            {
                model,
                checkpoint = r.Checkpoint,
                ema = r.Ema,
                dataset = data.Spec.ToString(),
                images = metrics.Count,
                acc1 = metrics.Acc1,
                acc5 = metrics.Acc5,
                loss = metrics.Loss,
            }, new JsonSerializerOptions { WriteIndented = true });
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(r.JsonPath))!);
            AtomicFile.WriteAllText(r.JsonPath, json);
        }
        return new EvalOutcome(metrics, model, report) { Ranks = sync.WorldSize };
    }

    // A VkD.NET checkpoint (or the sidecar of its model.pth) records its model and input size; a reference or plain file needs --model.
    private static (string Model, int InputSize, CheckpointFacts? Facts) ReadDefaults(EvalRequest r)
    {
        CheckpointFacts? facts;
        try
        {
            facts = CheckpointFacts.Read(r.Checkpoint);
        }
        catch (Exception e) when (r.Model.Length > 0 && r.InputSize > 0 && e is IOException or InvalidDataException)
        {
            // Everything needed was given; the weights loader reports what is wrong with the file.
            return (r.Model, r.InputSize, null);
        }
        var model = r.Model.Length > 0 ? r.Model : facts.Model
            ?? throw new ArgumentException($"'{r.Checkpoint}' does not name its model (no 'model' entry, no {Path.GetFileName(CheckpointFacts.SidecarOf(r.Checkpoint))} beside it); pass --model (or --student-model).");
        var size = r.InputSize > 0 ? r.InputSize : facts.InputSize ?? 0;
        return (model, size, facts);
    }

    private static string ClassName(IReadOnlyList<string> names, long index) =>
        index >= 0 && index < names.Count ? names[(int)index] : "";

    private static string Csv(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
