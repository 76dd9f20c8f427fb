using System.Globalization;
using VkD.Interop.Checkpoints;
using VkD.Tests.Training;
using VkD.Training.Logging;
using VkD.Training.Options;
using VkD.Training.Sessions;
using Xunit.Abstractions;

namespace VkD.Tests.Distributed;

/// <summary>The real thing: <c>vkd launch</c> starting several <c>vkd</c> ranks under mpirun on this machine.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class MpiJobTests : IClassFixture<MpiJobTests.TwoRankDistillation>, IDisposable
{
    private readonly TwoRankDistillation _run;
    private readonly ITestOutputHelper _log;
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-mpi-").FullName;

    public MpiJobTests(TwoRankDistillation run, ITestOutputHelper log)
    {
        _run = run;
        _log = log;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>One 2-rank distillation shared by the tests that read it: 4 steps of 2 ranks x batch 8, with the
    /// Householder projector, EMA and Mixup/CutMix, the replicas compared bit for bit after every step.</summary>
    public sealed class TwoRankDistillation : IDisposable
    {
        public const int PerRankBatch = 8;

        public const int TrainImages = 64;

        public const int EvalImages = 41;

        private readonly Lazy<(int Code, string Output)> _job;

        public TwoRankDistillation()
        {
            Dir = Directory.CreateTempSubdirectory("vkd-mpi-2ranks-").FullName;
            Teacher = MpiJobs.WriteTeacher(Path.Combine(Dir, "teacher.pth"));
            _job = new(() => MpiJobs.Run(
            [
                "launch", "--nproc_per_node", "2", "--check-sync", "1", "--",
                "distill", .. MpiJobs.DistillFlags(Teacher, TrainImages, EvalImages, epochs: 1),
                "--batch-size", PerRankBatch.ToString(CultureInfo.InvariantCulture), "--output-dir", Output,
            ]));
        }

        public string Dir { get; }

        public string Teacher { get; }

        public string Output => Path.Combine(Dir, "two-ranks");

        /// <summary>Runs the job once; asserts it succeeded.</summary>
        public string Ensure()
        {
            var (code, output) = _job.Value;
            Assert.True(code == 0, $"the 2-rank job failed ({code}):\n{output}");
            return output;
        }

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }

    [SkippableFact]
    public void Two_ranks_of_batch_b_end_with_the_weights_of_one_process_with_batch_2b_over_the_same_global_batches()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        var output = _run.Ensure();
        Assert.Contains("2 process(es), effective batch 16", output);
        // Rank 1 prints nothing (the reference silences non-master ranks): the banner appears once.
        Assert.Equal(1, output.Split('\n').Count(l => l.StartsWith("student ", StringComparison.Ordinal)));

        // One process computing the same global batches: each step's batch of 16 is rank 0's 8 then rank 1's 8 (their
        // shards, their augmentations), each half mixed as that rank mixes it.
        var single = Path.Combine(_dir, "one-process");
        var o = new TrainingOptions
        {
            DataSet = "fashion-mnist",
            DataPath = TrainingTestData.DataPath,
            InputSize = 32,
            Teacher = MpiJobs.TeacherModel,
            TeacherPath = _run.Teacher,
            StudentModel = MpiJobs.StudentModel,
            TrainSubset = TwoRankDistillation.TrainImages,
            EvalSubset = TwoRankDistillation.EvalImages,
            Epochs = 1,
            NumWorkers = 0,
            Threads = 1,
            Seed = 5,
            StudentEma = true,
            StudentEmaDecay = 0.9,
            Mixup = 0.8,
            Cutmix = 1.0,
            Opt = "momentum",
            Lr = 0.05,
            BatchSize = 2 * TwoRankDistillation.PerRankBatch,
            OutputDir = single,
        };
        var result = TrainingSession.Run(SessionKind.Distill, o, replayRanks: 2);
        Assert.Equal(4, result.Steps);

        var a = Path.Combine(_run.Output, RunFiles.LatestCheckpoint);
        var b = Path.Combine(single, RunFiles.LatestCheckpoint);
        var student = MpiJobs.MaxDifference(a, b, "student");
        var ema = MpiJobs.MaxDifference(a, b, "student_ema");
        _log.WriteLine($"largest difference: student {student.Max:G3} ({student.Key}), EMA {ema.Max:G3} ({ema.Key})");
        Assert.True(student.Max < 1e-5, $"student (with projector) differs by {student.Max} at {student.Key}");
        Assert.True(ema.Max < 1e-5, $"EMA student differs by {ema.Max} at {ema.Key}");

        // Rank 0 logs the global batch's losses, as the single process does.
        var logA = CsvLog.Read(Path.Combine(_run.Output, RunFiles.IterationsCsv));
        var logB = CsvLog.Read(Path.Combine(single, RunFiles.IterationsCsv));
        Assert.Equal(logB.Count, logA.Count);
        for (var i = 0; i < logA.Count; i++)
        {
            foreach (var column in new[] { "ce", "kd", "repr", "total" })
            {
                Assert.Equal(double.Parse(logB[i][column], CultureInfo.InvariantCulture), double.Parse(logA[i][column], CultureInfo.InvariantCulture), 5);
            }
        }
    }

    [SkippableFact]
    public void Gradients_split_over_many_small_buckets_and_in_place_tensors_average_to_the_same_weights()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        _run.Ensure();
        // 16 KB buckets: the 1.2M-parameter student's gradients take ~30 messages instead of 1, and every tensor over 4096
        // elements is reduced where it lies instead of through a bucket.
        var outDir = Path.Combine(_dir, "small-buckets");
        var (code, output) = MpiJobs.Run(
        [
            "launch", "--nproc_per_node", "2", "--bucket-mb", "0.015625", "--",
            "distill", .. MpiJobs.DistillFlags(_run.Teacher, TwoRankDistillation.TrainImages, TwoRankDistillation.EvalImages, epochs: 1),
            "--batch-size", TwoRankDistillation.PerRankBatch.ToString(CultureInfo.InvariantCulture), "--output-dir", outDir,
        ]);
        Assert.True(code == 0, output);
        var messages = System.Text.RegularExpressions.Regex.Match(output, @"moving ([0-9.]+) message\(s\)");
        Assert.True(messages.Success, output);
        Assert.True(double.Parse(messages.Groups[1].Value, CultureInfo.InvariantCulture) >= 20, output);
        var student = MpiJobs.MaxDifference(Path.Combine(_run.Output, RunFiles.LatestCheckpoint), Path.Combine(outDir, RunFiles.LatestCheckpoint), "student");
        Assert.True(student.Max == 0, $"the bucket layout changed the weights by {student.Max} at {student.Key}");
    }

    [SkippableFact]
    public void Sharded_evaluation_gives_exactly_the_single_process_top1_and_top5()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        _run.Ensure();
        var epochs = CsvLog.Read(Path.Combine(_run.Output, RunFiles.EpochsCsv));
        var latest = Path.Combine(_run.Output, RunFiles.LatestCheckpoint);
        foreach (var (ema, prefix) in new[] { (false, ""), (true, "ema_") })
        {
            // 41 images: rank 0 evaluated 21, rank 1 20; the single process all 41 with the same weights.
            var whole = EvaluationSession.Run(new EvalRequest
            {
                Checkpoint = latest,
                Ema = ema,
                DataSet = "fashion-mnist",
                DataPath = TrainingTestData.DataPath,
                InputSize = 32,
                EvalSubset = TwoRankDistillation.EvalImages,
                BatchSize = 12,
                NumWorkers = 0,
            }).Metrics;
            Assert.Equal(TwoRankDistillation.EvalImages, whole.Count);
            Assert.Equal(whole.Acc1, double.Parse(epochs[^1][prefix + "acc1"], CultureInfo.InvariantCulture));
            Assert.Equal(whole.Acc5, double.Parse(epochs[^1][prefix + "acc5"], CultureInfo.InvariantCulture));
            // The loss is a float32 sum in another order (two shards, then the reduction): equal to rounding, not bitwise;
            // a fixed number of decimals fails whenever the two values straddle a rounding boundary.
            var shardedLoss = double.Parse(epochs[^1][prefix + "loss"], CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(whole.Loss - shardedLoss) <= 1e-6 * Math.Max(1, Math.Abs(whole.Loss)), $"loss {whole.Loss} vs sharded {shardedLoss}");
        }
        using var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_run.Output, RunFiles.SummaryJson)));
        Assert.Equal(TwoRankDistillation.EvalImages, summary.RootElement.GetProperty("eval_images").GetInt32());
        Assert.Equal(TwoRankDistillation.EvalImages, summary.RootElement.GetProperty("final").GetProperty("images").GetInt32());
    }

    [SkippableFact]
    public void Only_rank_0_writes_the_run_folder()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        _run.Ensure();
        using var ckpt = CheckpointReader.Read(Path.Combine(_run.Output, RunFiles.LatestCheckpoint));
        Assert.Equal(2L, Convert.ToInt64(ckpt.Entries["world_size"], CultureInfo.InvariantCulture));
        Assert.Equal(8L, Convert.ToInt64(ckpt.Entries["batch_size"], CultureInfo.InvariantCulture));
        // One writer: each log has one header and one row per step or epoch, nothing interleaved from a second rank.
        Assert.Equal(5, File.ReadAllLines(Path.Combine(_run.Output, RunFiles.IterationsCsv)).Length);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(_run.Output, RunFiles.EpochsCsv)).Length);
        Assert.Empty(Directory.GetFiles(_run.Output, "*.tmp*"));
    }

    [SkippableFact]
    public void Killing_one_rank_ends_the_job_non_zero_naming_it_and_the_last_checkpoint_resumes_on_one_process()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        var outDir = Path.Combine(_dir, "killed");
        string[] flags =
        [
            "--model", "resnet8", "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath, "--train-subset", "192",
            "--eval-subset", "96", "--epochs", "50", "--mixup", "0", "--cutmix", "0", "--num-workers", "0", "--seed", "3",
            "--save-every-iters", "1",
        ];
        using var job = MpiJobs.Start(["launch", "--nproc_per_node", "2", "--", "train", .. flags, "--batch-size", "16", "--threads", "1", "--output-dir", outDir]);
        var log = Path.Combine(outDir, RunFiles.IterationsCsv);
        var latest = Path.Combine(outDir, RunFiles.LatestCheckpoint);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((!File.Exists(latest) || !File.Exists(log) || File.ReadAllLines(log).Length < 4) && !job.Process.HasExited && waited.Elapsed < TimeSpan.FromMinutes(5))
        {
            Thread.Sleep(50);
        }
        Assert.False(job.Process.HasExited, $"the job ended before the kill:\n{job.Output}");
        var rank1 = job.RankPid(1);
        Assert.True(rank1 is not null, $"rank 1 not found among the job's processes:\n{job.Output}");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-9", rank1.Value.ToString(CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }
        Assert.True(job.Process.WaitForExit(120_000), $"the job did not end after rank 1 was killed:\n{job.Output}");
        job.Process.WaitForExit();
        _log.WriteLine($"exit code {job.Process.ExitCode}; output:\n{job.Output}");
        Assert.NotEqual(0, job.Process.ExitCode);
        Assert.Matches(@"rank 1\b", job.Output);

        // The last checkpoint is whole, and one process continues it: with the same effective batch (1 x 32) the step
        // index is the saved one; with 1 x 16 it is twice that (the data position is counted in samples).
        using (var ckpt = CheckpointReader.Read(latest))
        {
            Assert.Equal(2L, Convert.ToInt64(ckpt.Entries["world_size"], CultureInfo.InvariantCulture));
        }
        var saved = SavedPosition(latest);
        foreach (var batch in new[] { 32, 16 })
        {
            var copy = Path.Combine(_dir, $"resume-{batch}");
            Directory.CreateDirectory(copy);
            File.Copy(latest, Path.Combine(copy, RunFiles.LatestCheckpoint));
            var o = new TrainingOptions
            {
                StudentModel = "resnet8",
                DataSet = "fashion-mnist",
                DataPath = TrainingTestData.DataPath,
                TrainSubset = 192,
                EvalSubset = 96,
                Epochs = 50,
                Mixup = 0,
                Cutmix = 0,
                NumWorkers = 0,
                Seed = 3,
                SaveEveryIters = 1,
                Threads = 1,
                BatchSize = batch,
                OutputDir = copy,
                Resume = "auto",
            };
            var messages = new List<string>();
            var result = TrainingSession.Run(SessionKind.Train, o, new MessageLog(messages), stopAfterSteps: 2);
            Assert.Equal(2, result.Steps);
            var scale = 32 / batch;
            var perEpoch = 6 * scale;
            var step = saved.Epoch * perEpoch + (saved.Batch * scale);
            Assert.Contains(messages, m => m.Contains($"continuing at epoch {(step / perEpoch) + 1}/", StringComparison.Ordinal)
                && m.Contains($"iteration {(step % perEpoch) + 1}/{perEpoch}.", StringComparison.Ordinal));
            // The test hook stops like a crash: the last save is the last mid-epoch one (none at an epoch's last step).
            var expected = (step + 2) % perEpoch == 0 ? step + 1 : step + 2;
            var (epoch, next) = SavedPosition(Path.Combine(copy, RunFiles.LatestCheckpoint));
            Assert.Equal(expected, (epoch * perEpoch) + next);
        }
    }

    [SkippableFact]
    public void A_rank_that_hangs_ends_the_job_after_the_collective_timeout_naming_the_waiting_rank()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        var outDir = Path.Combine(_dir, "hung");
        using var job = MpiJobs.Start(
        [
            "launch", "--nproc_per_node", "2", "--timeout", "10", "--", "train", "--model", "resnet8", "--data-set", "fashion-mnist",
            "--data-path", TrainingTestData.DataPath, "--train-subset", "192", "--eval-subset", "96", "--epochs", "50", "--mixup", "0",
            "--cutmix", "0", "--num-workers", "0", "--batch-size", "16", "--threads", "1", "--output-dir", outDir,
        ]);
        var log = Path.Combine(outDir, RunFiles.IterationsCsv);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((!File.Exists(log) || File.ReadAllLines(log).Length < 3) && !job.Process.HasExited && waited.Elapsed < TimeSpan.FromMinutes(5))
        {
            Thread.Sleep(50);
        }
        Assert.False(job.Process.HasExited, $"the job ended early:\n{job.Output}");
        var rank1 = job.RankPid(1);
        Assert.True(rank1 is not null, job.Output);
        // SIGSTOP: rank 1 neither works nor dies, so mpirun sees nothing wrong; only rank 0's watchdog can end the job.
        using (var stop = System.Diagnostics.Process.Start("kill", ["-STOP", rank1.Value.ToString(CultureInfo.InvariantCulture)]))
        {
            stop.WaitForExit();
        }
        Assert.True(job.Process.WaitForExit(180_000), $"the job did not end after rank 1 hung:\n{job.Output}");
        job.Process.WaitForExit();
        _log.WriteLine($"exit code {job.Process.ExitCode}; output:\n{job.Output}");
        Assert.Equal(VkD.Distributed.MpiCommunicator.TimeoutExitCode, job.Process.ExitCode);
        Assert.Contains("rank 0 of 2 on ", job.Output);
        Assert.Contains("has not completed in 10 s (the collective timeout", job.Output);
    }

    private static (long Epoch, long Batch) SavedPosition(string checkpoint)
    {
        using var ckpt = CheckpointReader.Read(checkpoint);
        return (Convert.ToInt64(ckpt.Entries["next_epoch"], CultureInfo.InvariantCulture), Convert.ToInt64(ckpt.Entries["next_batch"], CultureInfo.InvariantCulture));
    }

    [SkippableFact]
    public void Two_namespaces_joined_by_tcp_run_the_same_job_as_one_machine()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        Skip.IfNot(OperatingSystem.IsLinux(), "network namespaces are Linux's");
        var (pair, why) = NamespacePair.TryCreate(_dir);
        Skip.If(pair is null, why);
        using (pair)
        {
            var (code, output) = pair!.RunVkd(["launch", .. pair.LaunchFlags, "--check-mpi"], 180);
            _log.WriteLine(output);
            Assert.True(code == 0, output);
            Assert.Contains("MPI check: 2 rank(s) on 2 host(s); sums, broadcast and barrier correct on every rank", output);

            // The shared 2-rank distillation again, one rank per "node": the sums cross the veth link over TCP.
            _run.Ensure();
            var outDir = Path.Combine(_dir, "two-nodes");
            (code, output) = pair.RunVkd(
            [
                "launch", .. pair.LaunchFlags, "--check-sync", "1", "--",
                "distill", .. MpiJobs.DistillFlags(_run.Teacher, TwoRankDistillation.TrainImages, TwoRankDistillation.EvalImages, epochs: 1),
                "--batch-size", TwoRankDistillation.PerRankBatch.ToString(CultureInfo.InvariantCulture), "--output-dir", outDir,
            ]);
            _log.WriteLine(output);
            Assert.True(code == 0, output);
            var a = Path.Combine(_run.Output, RunFiles.LatestCheckpoint);
            var b = Path.Combine(outDir, RunFiles.LatestCheckpoint);
            var student = MpiJobs.MaxDifference(a, b, "student");
            Assert.True(student.Max < 1e-6, $"over TCP the student differs by {student.Max} at {student.Key}");
            Assert.Equal(File.ReadAllText(Path.Combine(_run.Output, RunFiles.EpochsCsv)).Split('\n')[1].Split(',')[2],
                File.ReadAllText(Path.Combine(outDir, RunFiles.EpochsCsv)).Split('\n')[1].Split(',')[2]);
        }
    }

    [SkippableFact]
    public void A_diverging_run_stops_every_rank_at_the_same_step_with_the_divergence_exit_code()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        var (code, output) = MpiJobs.Run(
        [
            "launch", "--nproc_per_node", "2", "--", "train", "--model", "resnet8", "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath,
            "--train-subset", "192", "--eval-subset", "96", "--batch-size", "16", "--epochs", "1", "--mixup", "0", "--cutmix", "0", "--num-workers", "0",
            "--threads", "1", "--lr", "1e6", "--output-dir", Path.Combine(_dir, "diverged"),
        ], 300);
        _log.WriteLine(output);
        Assert.Equal(VkD.Cli.Program.TrainingDiverged, code);
        var rank0 = output.Split('\n').Single(l => l.StartsWith("error: Training diverged", StringComparison.Ordinal));
        var rank1 = output.Split('\n').Single(l => l.StartsWith("[rank 1] error: Training diverged", StringComparison.Ordinal));
        // Both name the same step (the loss is reduced before anyone decides).
        Assert.Equal(rank0[..rank0.IndexOf(':', 7)], rank1["[rank 1] ".Length..][..rank0.IndexOf(':', 7)]);
        Assert.Contains("of 2", rank0);
    }

    [SkippableFact]
    public void The_mpi_check_runs_alone_as_a_one_rank_job_and_under_mpirun_on_every_rank()
    {
        Skip.If(MpiJobs.MissingMpirun is not null, MpiJobs.MissingMpirun);
        var (code, output) = MpiJobs.Run(["launch", "--mpi-check-rank"], 120);
        Assert.True(code == 0, output);
        Assert.Contains("MPI check: 1 rank(s) on 1 host(s); sums, broadcast and barrier correct", output);

        (code, output) = MpiJobs.Run(["launch", "--nproc_per_node", "3", "--check-mpi"], 120);
        Assert.True(code == 0, output);
        Assert.Contains("MPI check: 3 rank(s) on 1 host(s); sums, broadcast and barrier correct on every rank", output);
        Assert.Contains("allreduce   25.000 MB", output);
    }

    [Fact]
    public void A_missing_libmpi_is_a_clear_error_naming_the_library()
    {
        var (code, output) = MpiJobs.Run(["launch", "--mpi-check-rank"], 120,
            new Dictionary<string, string> { ["VKD_MPI_LIBRARY"] = Path.Combine(_dir, "no-such-libmpi.so") });
        Assert.NotEqual(0, code);
        Assert.Contains("libmpi.so.40) could not be loaded", output);
        Assert.Contains("no-such-libmpi.so: no such file", output);
        Assert.Contains("apt-get install openmpi-bin", output);
    }

    private sealed class MessageLog(List<string> messages) : VkD.Training.Loop.ITrainingObserver
    {
        public void OnMessage(string message) => messages.Add(message);
    }
}
