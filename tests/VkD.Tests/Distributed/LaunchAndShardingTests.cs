using Spectre.Console;
using TorchSharp.Modules;
using VkD.Cli;
using VkD.Cli.Commands;
using VkD.Data.Datasets;
using VkD.Data.Imaging;
using VkD.Distributed;
using VkD.Training.Distributed;
using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Tests.Distributed;

/// <summary>The launcher's command line, sharding and reductions, without any MPI process.</summary>
public sealed class LaunchAndShardingTests
{
    [Fact]
    public void Mpirun_command_has_the_options_a_cpu_job_needs()
    {
        var line = new MpirunCommandLine
        {
            ProcessesPerNode = 2,
            AsRoot = true,
            Environment = [new("TERM", "dumb"), new("OMP_NUM_THREADS", "1")],
            Program = ["/opt/vkd", "distill", "--batch-size", "64"],
        };
        Assert.Equal(
            ["--allow-run-as-root", "--oversubscribe", "-np", "2", "--bind-to", "none", "-x", "TERM=dumb", "-x", "OMP_NUM_THREADS=1", "/opt/vkd", "distill", "--batch-size", "64"],
            line.Arguments());

        var nodes = line with { AsRoot = false, Nodes = 3, Hostfile = "hosts", NetworkInterface = "eth1", Mca = [new("btl", "self,tcp")], Exported = ["PATH"] };
        var a = nodes.Arguments();
        Assert.Equal(6, nodes.Ranks);
        Assert.DoesNotContain("--allow-run-as-root", a);
        Assert.Equal(["-np", "6", "--hostfile", "hosts", "--map-by", "ppr:2:node"], a.Skip(1).Take(6));
        Assert.Contains("btl_tcp_if_include", a);
        Assert.Contains("oob_tcp_if_include", a);
        Assert.Equal("self,tcp", a[a.ToList().IndexOf("btl") + 1]);
        Assert.Equal("PATH", a[a.ToList().LastIndexOf("-x") + 1]);

        var e = Assert.Throws<ArgumentException>(() => (line with { Nodes = 2 }).Arguments());
        Assert.Contains("--hostfile", e.Message);
        Assert.Contains("Nothing to launch", Assert.Throws<ArgumentException>(() => (line with { Program = [] }).Arguments()).Message);
        Assert.Equal("mpirun -x 'A=b c' it", MpirunCommandLine.ShellLine("mpirun", ["-x", "A=b c", "it"]));
    }

    [Fact]
    public void The_reference_launcher_form_reads_as_a_vkd_launch()
    {
        // python -m torch.distributed.launch --master_port 1236 --nproc_per_node=1 main_distributed.py --teacher ... (README).
        string[] args = ["launch", "--master_port", "1236", "--nproc_per_node=2", "main_distributed.py", "--teacher", "regnety_160", "--batch-size", "512"];
        Assert.Equal(["launch", "--master_port", "1236", "--nproc_per_node=2", "--", "main_distributed.py", "--teacher", "regnety_160", "--batch-size", "512"],
            LaunchCommand.InsertSeparator(args));
        Assert.Equal(["launch", "--dry-run", "--", "distill"], LaunchCommand.InsertSeparator(["launch", "--dry-run", "--", "distill"]));
        Assert.Equal(["distill", "--teacher", "t"], LaunchCommand.TranslateCommand(["main_distributed.py", "--teacher", "t"]));
        Assert.Equal(["eval", "--eval-student"], LaunchCommand.TranslateCommand(["python", "-u", "/src/vkd/main_distributed.py", "--eval-student"]));
        Assert.Equal(["train", "--model", "m"], LaunchCommand.TranslateCommand(["vkd", "train", "--model", "m"]));
        Assert.Equal(["detect", "train", "--method", "vidt"], LaunchCommand.TranslateCommand(["python", "/src/vidt/main.py", "--method", "vidt"]));
        Assert.Equal(["detect", "eval", "--resume", "c.pth"], LaunchCommand.TranslateCommand(["vkd", "detect", "eval", "--resume", "c.pth"]));
        Assert.Contains("not 'detect predict'", Assert.Throws<ArgumentException>(() => LaunchCommand.TranslateCommand(["detect", "predict"])).Message);
        Assert.Contains("not 'export'", Assert.Throws<ArgumentException>(() => LaunchCommand.TranslateCommand(["export"])).Message);
    }

    [Fact]
    public void Dry_run_prints_the_mpirun_line_with_threads_per_rank_and_the_ranks_settings()
    {
        var (code, output) = Run("launch", "--nproc_per_node=2", "--threads-per-rank", "3", "--scale-lr", "linear", "--check-sync", "10", "--dry-run",
            "main_distributed.py", "--batch-size", "64", "--output_dir", "out");
        Assert.Equal(0, code);
        Assert.Contains("mpirun ", output);
        Assert.Contains("--oversubscribe -np 2 --bind-to none -x TERM=dumb -x OMP_NUM_THREADS=3", output);
        Assert.Contains($"-x {DataParallel.ScaleLrVariable}=linear -x {DataParallel.CheckEveryVariable}=10", output);
        Assert.Contains("distill --batch-size 64 --output_dir out --threads 3", output);

        (code, output) = Run("launch", "--nnodes", "2", "--dry-run", "--", "distill");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--hostfile", output);
        (code, output) = Run("launch", "--node_rank", "1", "--dry-run", "--", "distill");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("run vkd launch once", output);
    }

    [Fact]
    public void Strided_shards_cover_every_image_exactly_once()
    {
        var data = new CountingDataset(41);
        var seen = new List<int>();
        for (var r = 0; r < 3; r++)
        {
            var shard = new StridedShard(data, r, 3);
            seen.AddRange(Enumerable.Range(0, shard.Count).Select(shard.InnerIndex));
        }
        Assert.Equal(Enumerable.Range(0, 41), seen.Order());
        Assert.Equal(14, new StridedShard(data, 0, 3).Count);
        Assert.Equal(13, new StridedShard(data, 2, 3).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new StridedShard(data, 3, 3));
    }

    [Fact]
    public void Block_shards_hold_whole_batches_of_the_single_process_order()
    {
        // 41 images in batches of 12: batches 0 and 2 (0-11, 24-35) on rank 0, 1 and the short 3 (12-23, 36-40) on rank 1.
        var data = new CountingDataset(41);
        var first = new StridedShard(data, 0, 2, blockSize: 12);
        var second = new StridedShard(data, 1, 2, blockSize: 12);
        Assert.Equal(Enumerable.Range(0, 12).Concat(Enumerable.Range(24, 12)), Enumerable.Range(0, first.Count).Select(first.InnerIndex));
        Assert.Equal(Enumerable.Range(12, 12).Concat(Enumerable.Range(36, 5)), Enumerable.Range(0, second.Count).Select(second.InnerIndex));
        Assert.Equal(0, new StridedShard(new CountingDataset(10), 1, 2, blockSize: 12).Count);
        for (var ranks = 1; ranks <= 4; ranks++)
        {
            var seen = Enumerable.Range(0, ranks).Select(r => new StridedShard(data, r, ranks, 5))
                .SelectMany(s => Enumerable.Range(0, s.Count).Select(s.InnerIndex));
            Assert.Equal(Enumerable.Range(0, 41), seen.Order());
        }
    }

    [Fact]
    public void Sharded_accuracy_is_summed_as_exact_counts()
    {
        // Rank 0 saw 7 of 21 right (top-1) and 20 of 21 (top-5); the other rank 6 of 20 and 20 of 20.
        var local = new MetricSet(new Dictionary<string, double> { ["acc1"] = 100.0 * 7 / 21, ["acc5"] = 100.0 * 20 / 21, ["loss"] = 1.5 }, 21);
        var sync = new TwoRankSync(longs: [6, 20, 20], doubles: [2.0 * 20]);
        var whole = ShardedClassificationMetrics.Combine(local, sync);
        Assert.Equal(41, whole.Count);
        Assert.Equal(100.0 * 13 / 41, whole["acc1"]);
        Assert.Equal(100.0 * 40 / 41, whole["acc5"]);
        Assert.Equal((1.5 * 21 + 2.0 * 20) / 41, whole["loss"], 12);
    }

    [Fact]
    public void Step_agreement_averages_the_logged_terms_and_names_the_rank_that_diverged()
    {
        // The other rank (1) logs ce 3.0, total 5.0, asks to stop and saw a NaN.
        var sync = new TwoRankSync(longs: [], doubles: [3.0, 0, 5.0, 1, 0, 1]);
        var agreement = new StepAgreement(sync, 2);
        double[] values = [1.0, 7.0];
        var total = 3.0;
        agreement.Reduce(values, [0], ref total, locallyFinite: true, stopRequested: false);
        Assert.Equal([2.0, 7.0], values);
        Assert.Equal(4.0, total);
        Assert.True(agreement.Stop);
        Assert.Equal([1], agreement.NonFiniteRanks);
    }

    [Fact]
    public void Data_position_is_global_when_the_number_of_ranks_changes()
    {
        Assert.Equal(3, GlobalDataPosition.ToStep(3, 64, 64, 0, "c"));
        Assert.Equal(6, GlobalDataPosition.ToStep(3, 2 * 32, 32, 0, "c"));
        Assert.Equal(2, GlobalDataPosition.ToStep(4, 32, 64, 0, "c"));
        Assert.Equal(0, GlobalDataPosition.ToStep(0, 32, 96, 1, "c"));
        var e = Assert.Throws<InvalidDataException>(() => GlobalDataPosition.ToStep(1, 32, 64, 2, "ck.pth.tar"));
        Assert.Contains("32 samples into epoch 2", e.Message);
        Assert.Contains("ck.pth.tar", e.Message);
    }

    [Fact]
    public void Replica_checksum_is_exact()
    {
        using var a = randn(1000);
        using var b = a.clone();
        Assert.Equal(ReplicaChecksum.Of([a, b]), ReplicaChecksum.Of([a.clone(), b.clone()]));
        Assert.NotEqual(ReplicaChecksum.Of([a, b]), ReplicaChecksum.Of([b, a.roll(1)]));
        var before = ReplicaChecksum.Of([a]);
        a[17] = a[17].nextafter(tensor(float.PositiveInfinity));
        Assert.NotEqual(before, ReplicaChecksum.Of([a]));
    }

    private static (int Code, string Output) Run(params string[] args) => VkD.Tests.Cli.CliRunner.Run(args);

    /// <summary>A stand-in for rank 0 of two: each sum adds the other rank's fixed contribution.</summary>
    private sealed class TwoRankSync(long[] longs, double[] doubles) : IGradientSync
    {
        public int Rank => 0;

        public int WorldSize => 2;

        public void AllReduceGradients(IReadOnlyList<Parameter> parameters) => throw new NotSupportedException();

        public double AllReduceMean(double value) => throw new NotSupportedException();

        public void AllReduceSum(Span<double> values)
        {
            Assert.Equal(doubles.Length, values.Length);
            for (var i = 0; i < values.Length; i++)
            {
                values[i] += doubles[i];
            }
        }

        public void AllReduceSum(Span<long> values)
        {
            Assert.Equal(longs.Length, values.Length);
            for (var i = 0; i < values.Length; i++)
            {
                values[i] += longs[i];
            }
        }
    }

    private sealed class CountingDataset(int count) : IImageDataset
    {
        public int Count => count;

        public IReadOnlyList<string> ClassNames { get; } = ["a"];

        public int GetLabel(int index) => 0;

        public ImageU8 LoadImage(int index) => throw new NotSupportedException();

        public string Describe(int index) => index.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
