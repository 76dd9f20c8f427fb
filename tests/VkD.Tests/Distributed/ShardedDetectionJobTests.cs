using System.Globalization;
using VkD.Tests.Detection.Training;
using VkD.Tests.Training;
using VkD.Training.Logging;

namespace VkD.Tests.Distributed;

/// <summary><c>vkd detect train</c> and <c>vkd detect eval</c> as 2-rank jobs on tiny generated sets with a reduced
/// Swin-nano ViDT: the training matches one process with the double batch, and the sharded COCO evaluation writes
/// exactly the single process's detections and numbers.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class ShardedDetectionJobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-mpi-det-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<string> Train(string data, string output, int batch) =>
    [
        "detect", "train", "--method", "vidt", "--backbone_name", "swin_nano", "--epochs", "1", "--lr", "1e-3", "--min-lr", "1e-7",
        "--batch_size", batch.ToString(CultureInfo.InvariantCulture), "--num_workers", "0", "--aux_loss", "True", "--with_box_refine", "True",
        "--coco_path", data, "--output_dir", output, "--pre_trained", "none", "--det_token_num", "4", "--reduced_dim", "32", "--dec_layers", "2",
        "--dim_feedforward", "64", "--nheads", "4", "--dec_n_points", "2", "--num_classes", "4", "--train_size", "64", "--eval_size", "64",
        "--eval-batch-size", "2", "--threads", "1",
    ];

    private static List<string> Eval(string checkpoint, string val, string output) =>
    [
        "detect", "eval", "--resume", checkpoint, "--coco_path", val, "--nheads", "4", "--dec_n_points", "2", "--eval_size", "64",
        "--batch_size", "2", "--threads", "1", "--output_dir", output,
    ];

    [SkippableFact]
    public void Two_ranks_train_in_step_and_evaluate_exactly_as_one_process()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        // 5 val images: batches of 2, 2 and 1, so rank 0 predicts batches 0 and 2 and rank 1 batch 1.
        var data = DetectionTrainingTestData.MakeSets(Path.Combine(_dir, "data"), trainImages: 4, valImages: 5);
        var two = Path.Combine(_dir, "two");
        // Every step's weights compared bit for bit across the ranks (--check-sync 1): without the gradient allreduce the
        // ranks, each on its own images, would differ after the first step and the job would fail.
        var (code2, out2) = MpiJobs.Run(["launch", "--nproc_per_node", "2", "--check-sync", "1", "--", .. Train(data, two, batch: 1)], limitSeconds: 300);
        Assert.True(code2 == 0, out2);
        Assert.Contains("2 process(es), effective batch 2", out2, StringComparison.Ordinal);
        // Each rank saw half of the 4 images: 2 steps of 2 x 1, logged once.
        Assert.Equal(3, File.ReadAllLines(Path.Combine(two, RunFiles.IterationsCsv)).Length);

        // The 2-rank run's weights evaluated by one process and by two.
        var weights = Path.Combine(two, "checkpoint.pth");
        var val = Path.Combine(data, "val");
        var (code3, out3) = MpiJobs.Run(Eval(weights, val, Path.Combine(_dir, "eval1")), limitSeconds: 300);
        Assert.True(code3 == 0, out3);
        var (code4, out4) = MpiJobs.Run(["launch", "--nproc_per_node", "2", "--", .. Eval(weights, val, Path.Combine(_dir, "eval2"))], limitSeconds: 300);
        Assert.True(code4 == 0, out4);
        Assert.Contains("over 2 ranks, detections gathered to rank 0", out4, StringComparison.Ordinal);
        var results = File.ReadAllText(Path.Combine(_dir, "eval1", "coco_results.json"));
        // Top 100 of 4 [DET] x 4 classes per image: all 16.
        Assert.Equal(5 * 16, System.Text.Json.JsonDocument.Parse(results).RootElement.GetArrayLength());
        Assert.Equal(results, File.ReadAllText(Path.Combine(_dir, "eval2", "coco_results.json")));
        var stats = File.ReadAllText(Path.Combine(_dir, "eval1", "coco_stats.json"));
        Assert.Equal(stats, File.ReadAllText(Path.Combine(_dir, "eval2", "coco_stats.json")));
        Assert.Equal(out3.Split('\n').Where(l => l.StartsWith(" Average ", StringComparison.Ordinal)),
            out4.Split('\n').Where(l => l.StartsWith(" Average ", StringComparison.Ordinal)));

        // The training's own (sharded, per-epoch) evaluation of those weights gave the same AP as one process.
        using var statsJson = System.Text.Json.JsonDocument.Parse(stats);
        var epochs = CsvLog.Read(Path.Combine(two, RunFiles.EpochsCsv));
        foreach (var name in new[] { "AP", "AP50", "AP75" })
        {
            Assert.Equal(statsJson.RootElement.GetProperty(name).GetDouble(), double.Parse(epochs[^1][name], CultureInfo.InvariantCulture), 12);
        }
    }
}
