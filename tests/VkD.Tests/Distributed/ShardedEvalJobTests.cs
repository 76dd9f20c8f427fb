using System.Globalization;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Tests.Training;
using static TorchSharp.torch;

namespace VkD.Tests.Distributed;

/// <summary><c>vkd eval</c> under <c>vkd launch</c>: two ranks evaluating shards write what one process writes.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class ShardedEvalJobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-mpi-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public void Two_ranks_print_and_write_exactly_the_single_process_metrics_and_predictions()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        var weights = Path.Combine(_dir, "student.pth");
        manual_seed(3);
        using (var model = ModelRegistry.Create(MpiJobs.StudentModel, new ModelOptions(10, 32, 0, 1)))
        {
            CheckpointWriter.WriteStateDict(weights, model.state_dict());
        }
        // 41 images in batches of 12: rank 0 evaluates batches 0 and 2, rank 1 batch 1 and the short batch 3.
        List<string> Flags(string name) =>
        [
            "eval", "--model", MpiJobs.StudentModel, "--student-ckpt", weights, "--data-set", "fashion-mnist",
            "--data-path", TrainingTestData.DataPath, "--input-size", "32", "--eval-subset", "41", "--batch-size", "12",
            "--num-workers", "0", "--threads", "1",
            "--json", Path.Combine(_dir, name + ".json"), "--predictions", Path.Combine(_dir, name + ".csv"),
        ];
        var (code1, one) = MpiJobs.Run(Flags("one"), limitSeconds: 300);
        Assert.True(code1 == 0, one);
        var (code2, two) = MpiJobs.Run(["launch", "--nproc_per_node", "2", "--", .. Flags("two")], limitSeconds: 300);
        Assert.True(code2 == 0, two);

        Assert.Contains("over 2 ranks, gathered to rank 0", two, StringComparison.Ordinal);
        var result = one.Split('\n').Single(l => l.Contains(" on 41 images: top-1 ", StringComparison.Ordinal)).Trim();
        // Printed once (rank 0 only), with the same digits.
        Assert.Single(two.Split('\n'), l => l.Trim() == result);
        // The JSON holds the full doubles: bit-for-bit equal, loss included (same batches, summed in the same order).
        Assert.Equal(File.ReadAllText(Path.Combine(_dir, "one.json")), File.ReadAllText(Path.Combine(_dir, "two.json")));
        var rows = File.ReadAllLines(Path.Combine(_dir, "two.csv"));
        Assert.Equal(File.ReadAllLines(Path.Combine(_dir, "one.csv")), rows);
        Assert.Equal(42, rows.Length);
        Assert.Equal(Enumerable.Range(0, 41).Select(i => i.ToString(CultureInfo.InvariantCulture)), rows.Skip(1).Select(r => r.Split(',')[0]));
    }
}
