using System.Globalization;
using TorchSharp;
using VkD.Distillation.Distiller;
using VkD.Distillation.Losses;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using VkD.Interop.Checkpoints;
using VkD.Training.Logging;
using VkD.Training.Loop;
using VkD.Training.Optim;
using VkD.Training.Options;
using VkD.Training.Tasks;
using static TorchSharp.torch;

namespace VkD.Tests.Training;

/// <summary>A batch of the synthetic tasks: inputs [B, 8] and labels [B].</summary>
internal sealed record VectorBatch(Tensor X, Tensor Y) : IDisposable
{
    public void Dispose()
    {
        X.Dispose();
        Y.Dispose();
    }
}

/// <summary>Deterministic synthetic batches: batch i of epoch e is drawn from a generator seeded by (e, i), so any
/// position can be produced again, as the loop's resume needs.</summary>
internal sealed class SyntheticSource(int batches, int batchSize) : IBatchSource<VectorBatch>
{
    public int Count => batches * batchSize;

    public int BatchesPerEpoch => batches;

    public IEnumerable<VectorBatch> GetEpoch(int epoch, int startBatch = 0)
    {
        for (var i = startBatch; i < batches; i++)
        {
            using var g = new Generator((ulong)(epoch * 1000 + i + 1));
            var x = randn([batchSize, 8], generator: g);
            var y = randint(0, 3, [batchSize], generator: g);
            yield return new VectorBatch(x, y);
        }
    }
}

/// <summary>
/// The loop's promises for tasks other than classification: a feature distiller whose two pairs share one projector
/// (pooled vector and tokens, as a detector's levels would), and a task with two alternating optimisers (a GAN's D
/// and G steps). Each logs its named terms, checkpoints every part and resumes bit-exactly after a kill.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class TaskLoopTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-loop-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainingOptions LoopOptions(string dir) => new()
    {
        Epochs = 2,
        BatchSize = 16,
        Lr = 1e-2,
        MinLr = 1e-4,
        WeightDecay = 0.01,
        Seed = 3,
        SaveEvery = 1,
        SaveEveryIters = 2,
        StudentEma = true,
        StudentEmaDecay = 0.9,
        OutputDir = dir,
    };

    // ---- two feature pairs sharing one projector ----

    private sealed class SharedPairRun : IDisposable
    {
        public SharedPairRun()
        {
            random.manual_seed(11);
            Student = nn.Sequential(("0", nn.Linear(8, 24)), ("1", nn.ReLU()));
            Teacher = nn.Sequential(("0", nn.Linear(8, 40)));
            Teacher.eval();
            Projector = new OrthogonalProjector(6, 10);
            var distiller = new FeatureDistiller(
            [
                new FeaturePairTerm("pooled", "pooled", "pooled", Projector, teacherNormalization: new LayerStandardization()),
                new FeaturePairTerm("tokens", "tokens", "tokens", Projector, distance: new FeatureLoss(FeatureLossKind.Cosine),
                    weight: 0.5, rows: FeatureRows.Tokens),
                new CrossEntropyTerm(Name: "ce_tap", LogitsFeature: "0"),
            ]);
            Taps = new ModuleTaps(Student, ["0"]);
            Task = new FeatureDistillationTask<VectorBatch>(new FeatureDistillationTaskSetup<VectorBatch>
            {
                Student = Student,
                Name = "mlp",
                StudentFeatures = b => Sides(Student.call(b.X).view(-1, 4, 6), "student", Taps),
                TeacherFeatures = b => Sides(Teacher.call(b.X).view(-1, 4, 10), "teacher", null),
                Targets = b => b.Y,
                Distiller = distiller,
                BatchSize = b => (int)b.X.shape[0],
                CreateEmaCopy = () => nn.Sequential(("0", nn.Linear(8, 24)), ("1", nn.ReLU())),
                Evaluate = m => new MetricSet(new Dictionary<string, double> { ["weight_norm"] = m.parameters().First().norm().item<float>() }, 1),
                MetricNames = ["weight_norm"],
                HigherIsBetter = false,
            });
        }

        public nn.Module<Tensor, Tensor> Student { get; }

        public nn.Module<Tensor, Tensor> Teacher { get; }

        public OrthogonalProjector Projector { get; }

        public ModuleTaps Taps { get; }

        public FeatureDistillationTask<VectorBatch> Task { get; }

        private static FeatureSet Sides(Tensor tokens, string side, ModuleTaps? taps)
        {
            var set = new FeatureSet(side).Add("tokens", tokens).Add("pooled", tokens.mean([1]));
            return taps is null ? set : taps.AddTo(set);
        }

        public LoopResult Run(TrainingOptions o, long? stopAfter = null, Action<string>? fault = null, CancellationToken stop = default,
            ITrainingObserver? observer = null) => new TrainingLoop<VectorBatch>(new LoopSetup<VectorBatch>
            {
                Task = Task,
                Train = new SyntheticSource(4, 16),
                Options = o,
                StopAfterSteps = stopAfter,
                FaultPoint = fault,
                Stop = stop,
                Observer = observer ?? NullTrainingObserver.Instance,
            }).Run();

        public void Dispose()
        {
            Taps.Dispose();
            Task.Dispose();
            Student.Dispose();
            Teacher.Dispose();
        }
    }

    [Fact]
    public void A_lagged_per_epoch_schedule_trains_each_epoch_at_the_previous_epochs_rate_and_logs_the_rate_applied()
    {
        var dir = Path.Combine(_dir, "lagged");
        var o = LoopOptions(dir);
        o.Epochs = 3;
        o.ScheduleUnit = "epoch";
        o.ScheduleLagEpochs = 1;
        using (var run = new SharedPairRun())
        {
            Assert.True(run.Run(o).Completed);
        }
        // ViDT's main.py: epoch e trains at the cosine's value at max(e - 1, 0).
        double Cosine(int t) => o.MinLr + (0.5 * (o.Lr - o.MinLr) * (1 + Math.Cos(Math.PI * t / o.Epochs)));
        var rows = File.ReadAllLines(Path.Combine(dir, "iterations.csv")).Skip(1)
            .Select(l => l.Split(',')).Select(c => (Epoch: int.Parse(c[0], CultureInfo.InvariantCulture), Lr: double.Parse(c[2], CultureInfo.InvariantCulture)))
            .ToArray();
        Assert.Equal(12, rows.Length);
        foreach (var (epoch, lr) in rows)
        {
            Assert.Equal(Cosine(Math.Max(epoch - 1, 0)), lr, 12);
        }
    }

    [Fact]
    public void A_lag_needs_the_per_epoch_schedule()
    {
        var cosine = CosineLrScheduler.FromEpochs(1.0, 0.0, 4, 0, 0, 10);
        Assert.Throws<ArgumentException>(() => new LearningRateSchedule(cosine, 10, perEpoch: false, lagEpochs: 1));
        var unlagged = new LearningRateSchedule(cosine, 10, perEpoch: true);
        Assert.Equal(cosine.LearningRate(20), unlagged.LearningRate(29));
    }

    [Fact]
    public void Two_pairs_sharing_one_projector_log_their_terms_register_one_projector_and_resume_bit_exactly()
    {
        var straight = Path.Combine(_dir, "straight");
        using (var run = new SharedPairRun())
        {
            Assert.Single(run.Task.CheckpointParts[0].Modules.OfType<FeatureDistiller>().Single().Projectors);
            var before = run.Projector.ComputeWeight().detach().clone();
            var result = run.Run(LoopOptions(straight));
            Assert.True(result.Completed);
            Assert.Equal(8, result.Steps);
            // Both pairs moved the one projector, and it is still orthonormal (W^T W = I).
            using var w = run.Projector.ComputeWeight().detach();
            Assert.True((w - before).abs().max().item<float>() > 1e-4);
            Assert.True((w.t().matmul(w) - eye(6)).abs().max().item<float>() < 1e-5);
        }
        Assert.Equal("epoch,itr,lr,pooled,tokens,ce_tap,total,seconds", File.ReadLines(Path.Combine(straight, RunFiles.IterationsCsv)).First());
        var rows = CsvLog.Read(Path.Combine(straight, RunFiles.IterationsCsv));
        Assert.Equal(8, rows.Count);
        Assert.All(rows, r => Assert.True(double.Parse(r["tokens"], CultureInfo.InvariantCulture) > 0));
        using (var ckpt = CheckpointReader.Read(Path.Combine(straight, RunFiles.LatestCheckpoint)))
        {
            var keys = ckpt.StateDictEntry("student").Keys.Order().ToList();
            Assert.Equal(["0.bias", "0.weight", "projector.parametrizations.weight.original"], keys.Where(k => !k.StartsWith("projector.", StringComparison.Ordinal) || k.EndsWith("original", StringComparison.Ordinal)).ToList());
            Assert.NotNull(ckpt.Entries["student_ema"]);
        }
        Assert.True(File.Exists(Path.Combine(straight, RunFiles.BestCheckpoint)));

        var resumed = Path.Combine(_dir, "resumed");
        using (var run = new SharedPairRun())
        {
            Assert.False(run.Run(LoopOptions(resumed), stopAfter: 5).Completed);
        }
        using (var run = new SharedPairRun())
        {
            var o = LoopOptions(resumed);
            o.Resume = "auto";
            // Killed after step 5 (epoch 1, batch 0); the last save was the end of epoch 0, so 4 steps remain.
            Assert.Equal(4, run.Run(o).Steps);
        }
        AssertSameCheckpoints(straight, resumed, ["student", "student_ema"]);
    }

    // ---- two alternating optimisers (a GAN's D and G steps) ----

    private sealed class AlternatingTask : ITrainingTask<VectorBatch>, IDisposable
    {
        private readonly AdamWOptimizer _d;
        private readonly AdamWOptimizer _g;

        public AlternatingTask(IEmaSchedule? emaSchedule = null)
        {
            EmaSchedule = emaSchedule;
            random.manual_seed(5);
            Generator = nn.Linear(4, 8);
            Discriminator = nn.Linear(8, 1);
            _d = new AdamWOptimizer(WeightDecayGroups.Build(Discriminator.named_parameters().Select(p => (p.name, p.parameter)), 0), 2e-3, beta1: 0.0);
            _g = new AdamWOptimizer(WeightDecayGroups.Build(Generator.named_parameters().Select(p => (p.name, p.parameter)), 0), 1e-3, beta1: 0.0);
            Optimizers = [new TaskOptimizer("optimizer_d", _d), new TaskOptimizer("optimizer_g", _g, LrScale: 0.5)];
            CheckpointParts = [new CheckpointPart("generator", [Generator]), new CheckpointPart("discriminator", [Discriminator])];
        }

        public nn.Module<Tensor, Tensor> Generator { get; }

        public nn.Module<Tensor, Tensor> Discriminator { get; }

        public string ModelName => "toy_gan";

        public IReadOnlyList<string> TermNames { get; } = ["d_real", "d_fake", "g_adv"];

        public IReadOnlyList<string> MetricNames { get; } = ["d_gap"];

        public string BestMetric => "d_gap";

        public bool HigherIsBetter => false;

        public IReadOnlyList<TaskOptimizer> Optimizers { get; }

        public IReadOnlyList<CheckpointPart> CheckpointParts { get; }

        public (nn.Module Source, Func<nn.Module> CreateCopy, string Entry)? EmaTarget => (Generator, () => nn.Linear(4, 8), "generator_ema");

        public IEmaSchedule? EmaSchedule { get; }

        public nn.Module FinalModel => Generator;

        public bool HasEvaluation => true;

        public void SetTraining(bool training)
        {
            Generator.train(training);
            Discriminator.train(training);
        }

        public int BatchSize(VectorBatch batch) => (int)batch.X.shape[0];

        public LossTerms ComputeLoss(int phase, VectorBatch batch, StepContext context)
        {
            using var g = new Generator((ulong)context.SeedFor(phase + 1));
            var z = randn([batch.X.shape[0], 4], generator: g);
            if (phase == 0)
            {
                var fake = Generator.call(z).detach();
                var real = nn.functional.softplus(-Discriminator.call(batch.X)).mean();
                var fakeLoss = nn.functional.softplus(Discriminator.call(fake)).mean();
                return new LossTerms([("d_real", real), ("d_fake", fakeLoss)], real + fakeLoss);
            }
            var adv = nn.functional.softplus(-Discriminator.call(Generator.call(z))).mean();
            return new LossTerms([("g_adv", adv)], adv.alias());
        }

        public MetricSet? Evaluate(nn.Module model)
        {
            using var _ = no_grad();
            using var z = randn(32, 4);
            var gen = (nn.Module<Tensor, Tensor>)model;
            using var fake = gen.call(z);
            using var score = Discriminator.call(fake).mean();
            return new MetricSet(new Dictionary<string, double> { ["d_gap"] = Math.Abs(score.item<float>()) }, 32);
        }

        public void Dispose()
        {
            _d.Dispose();
            _g.Dispose();
            Generator.Dispose();
            Discriminator.Dispose();
        }
    }

    private static LoopResult RunAlternating(TrainingOptions o, long? stopAfter = null)
    {
        using var task = new AlternatingTask();
        return new TrainingLoop<VectorBatch>(new LoopSetup<VectorBatch>
        {
            Task = task,
            Train = new SyntheticSource(4, 16),
            Options = o,
            StopAfterSteps = stopAfter,
        }).Run();
    }

    [Fact]
    public void Two_alternating_optimisers_step_in_turn_log_every_phase_and_resume_bit_exactly()
    {
        var straight = Path.Combine(_dir, "gan-straight");
        Assert.True(RunAlternating(LoopOptions(straight)).Completed);
        Assert.Equal("epoch,itr,lr,d_real,d_fake,g_adv,total,seconds", File.ReadLines(Path.Combine(straight, RunFiles.IterationsCsv)).First());
        var rows = CsvLog.Read(Path.Combine(straight, RunFiles.IterationsCsv));
        Assert.All(rows, r =>
        {
            var sum = double.Parse(r["d_real"], CultureInfo.InvariantCulture) + double.Parse(r["d_fake"], CultureInfo.InvariantCulture)
                + double.Parse(r["g_adv"], CultureInfo.InvariantCulture);
            Assert.Equal(sum, double.Parse(r["total"], CultureInfo.InvariantCulture), 5);
        });
        using (var ckpt = CheckpointReader.Read(Path.Combine(straight, RunFiles.LatestCheckpoint)))
        {
            foreach (var entry in new[] { "generator", "discriminator", "generator_ema", "optimizer_d", "optimizer_g" })
            {
                Assert.True(ckpt.Entries.ContainsKey(entry), $"checkpoint lacks '{entry}'");
            }
            // Each optimiser saw every step: Adam's step count is the number of steps, for D and for G.
            foreach (var entry in new[] { "optimizer_d", "optimizer_g" })
            {
                var state = (IDictionary<object, object?>)((IReadOnlyDictionary<string, object?>)ckpt.Entries[entry]!)["state"]!;
                Assert.NotEmpty(state);
                Assert.All(state.Values, s => Assert.Equal(8.0, ((Tensor)((IReadOnlyDictionary<string, object?>)s!)["step"]!).ToDouble()));
            }
        }

        var resumed = Path.Combine(_dir, "gan-resumed");
        Assert.False(RunAlternating(LoopOptions(resumed), stopAfter: 3).Completed);
        var o = LoopOptions(resumed);
        o.Resume = "auto";
        // Killed after step 3 (epoch 0, batch 2); the mid-epoch save after batch 1 means batches 2..7 run again.
        Assert.Equal(6, RunAlternating(o).Steps);
        AssertSameCheckpoints(straight, resumed, ["generator", "discriminator", "generator_ema"]);
        Assert.Equal(IterationLogs.Deterministic(straight), IterationLogs.Deterministic(resumed));
    }

    // Records G's weights (float64) after every step: the trajectory the EMA averages.
    private sealed class WeightRecorder(nn.Module model) : ITrainingObserver
    {
        public List<Dictionary<string, Tensor>> AfterStep { get; } = [];

        public void OnIteration(IterationReport report) => AfterStep.Add(Snapshot(model));

        public static Dictionary<string, Tensor> Snapshot(nn.Module m) =>
            m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(float64).clone());
    }

    [Fact]
    public void The_task_s_EMA_schedule_replaces_the_loop_s_and_gives_BigGAN_s_closed_form()
    {
        const double decay = 0.8;
        const int start = 3;
        var dir = Path.Combine(_dir, "ema");
        using var task = new AlternatingTask(new ConstantEmaSchedule(decay, start));
        var recorder = new WeightRecorder(task.Generator);
        var o = LoopOptions(dir);
        o.StudentEmaDecay = 0.5; // the loop's own schedule, which the task's must override
        var result = new TrainingLoop<VectorBatch>(new LoopSetup<VectorBatch>
        {
            Task = task,
            Train = new SyntheticSource(4, 16),
            Options = o,
            Observer = recorder,
        }).Run();
        Assert.True(result.Completed);
        var w = recorder.AfterStep;
        var n = w.Count;
        Assert.Equal(8, n);

        // BigGAN: steps 1 .. start-1 peg the copy to G, so after step n-1 the copy is
        // decay^(n-start) w[start-1] + sum_{s=start}^{n-1} (1-decay) decay^(n-1-s) w[s].
        using var ckpt = CheckpointReader.Read(Path.Combine(dir, RunFiles.LatestCheckpoint));
        var ema = ckpt.StateDictEntry("generator_ema");
        foreach (var key in new[] { "weight", "bias" })
        {
            var expected = w[start - 1][key] * Math.Pow(decay, n - start);
            for (var s = start; s < n; s++)
            {
                expected += w[s][key] * ((1 - decay) * Math.Pow(decay, n - 1 - s));
            }
            var actual = ema[key].to(float64);
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-6), $"generator_ema.{key}: max |diff| {(actual - expected).abs().max().item<double>():E2}");
            // It is not G itself (the average moved away from the last step's weights).
            Assert.False(actual.allclose(w[n - 1][key], rtol: 1e-5, atol: 1e-6));
        }
        foreach (var snapshot in w)
        {
            foreach (var t in snapshot.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void BigGAN_s_EMA_rule_copies_before_the_start_step_except_at_step_zero()
    {
        var rule = new ConstantEmaSchedule(0.9999, 1000);
        // BigGAN tests `if itr and itr < start_itr` with a 0-based itr: step 0 is falsy and takes the decay.
        Assert.Equal(0.9999, rule.Momentum(0));
        Assert.Equal(0.0, rule.Momentum(1));
        Assert.Equal(0.0, rule.Momentum(999));
        Assert.Equal(0.9999, rule.Momentum(1000));
        Assert.Equal(0.9999, rule.Momentum(123_456));
        Assert.All(new long[] { 0, 1, 5 }, s => Assert.Equal(0.5, new ConstantEmaSchedule(0.5, 0).Momentum(s)));
    }

    [Fact]
    public void A_non_finite_term_is_named_in_the_error()
    {
        using var run = new SharedPairRun();
        var o = LoopOptions(Path.Combine(_dir, "nan"));
        o.Lr = 1e30; // the first update overflows the weights, so the second forward pass is not finite
        o.MinLr = 1e30;
        var e = Assert.Throws<NonFiniteLossException>(() => run.Run(o));
        Assert.Contains("not finite:", e.Message);
        Assert.Contains("pooled=", e.Message);
        Assert.True(e.Components.ContainsKey("ce_tap"));
    }

    // ---- faults: a kill at every checkpoint phase, torn logs, concurrent runs, stop requests, orphaned temporaries ----

    private sealed class SimulatedCrash : Exception;

    [Theory]
    [InlineData("checkpoint:pending", 0)]
    [InlineData("checkpoint:pending", 1)]
    [InlineData("checkpoint:numbered", 0)]
    [InlineData("checkpoint:best", 0)]
    [InlineData("checkpoint:latest", 0)]
    [InlineData("mid-epoch:latest", 1)]
    public void A_kill_at_any_checkpoint_phase_leaves_every_promised_file_complete_after_resume(string phase, int occurrence)
    {
        var straight = Path.Combine(_dir, "straight");
        using (var run = new SharedPairRun())
        {
            run.Run(LoopOptions(straight));
        }
        var crashed = Path.Combine(_dir, "crashed");
        var seen = 0;
        using (var run = new SharedPairRun())
        {
            Assert.Throws<SimulatedCrash>(() => run.Run(LoopOptions(crashed), fault: p =>
            {
                if (p == phase && seen++ == occurrence)
                {
                    throw new SimulatedCrash();
                }
            }));
        }
        using (var run = new SharedPairRun())
        {
            var o = LoopOptions(crashed);
            o.Resume = "auto";
            Assert.True(run.Run(o).Completed);
        }
        AssertSameCheckpoints(straight, crashed, ["student", "student_ema"]);
        foreach (var file in new[] { RunFiles.EpochCheckpoint(1), RunFiles.EpochCheckpoint(2), RunFiles.BestCheckpoint })
        {
            Assert.True(File.Exists(Path.Combine(crashed, file)), $"{file} is missing after a kill at {phase} #{occurrence} and resume");
            using var a = CheckpointReader.Read(Path.Combine(straight, file));
            using var b = CheckpointReader.Read(Path.Combine(crashed, file));
            Assert.Equal(a.Entries["epoch"], b.Entries["epoch"]);
        }
        var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(crashed, RunFiles.SummaryJson)));
        using (var best = CheckpointReader.Read(Path.Combine(crashed, RunFiles.BestCheckpoint)))
        {
            Assert.Equal(summary.RootElement.GetProperty("best_epoch").GetInt32(), Convert.ToInt32(best.Entries["epoch"], CultureInfo.InvariantCulture));
        }
        Assert.Equal(IterationLogs.Deterministic(straight), IterationLogs.Deterministic(crashed));
        Assert.Empty(Directory.GetFiles(crashed, "*.pending"));
        Assert.False(File.Exists(Path.Combine(crashed, OutputFolderLock.FileName)));
    }

    [Fact]
    public void A_torn_last_log_line_and_orphaned_temporaries_do_not_stop_a_resume()
    {
        var straight = Path.Combine(_dir, "straight");
        using (var run = new SharedPairRun())
        {
            run.Run(LoopOptions(straight));
        }
        var torn = Path.Combine(_dir, "torn");
        using (var run = new SharedPairRun())
        {
            run.Run(LoopOptions(torn), stopAfter: 3);
        }
        // A kill in the middle of a row write, and temporaries of interrupted atomic writes (one as big as a checkpoint).
        File.AppendAllText(Path.Combine(torn, RunFiles.IterationsCsv), "0,3,0.0099,0.51");
        File.AppendAllText(Path.Combine(torn, RunFiles.EpochsCsv), "0,1.2");
        File.Copy(Path.Combine(torn, RunFiles.LatestCheckpoint), Path.Combine(torn, ".latest.pth.tar.0123abcd.tmp"));
        File.WriteAllText(Path.Combine(torn, "summary.json.tmp-4242"), "{");
        using (var run = new SharedPairRun())
        {
            var o = LoopOptions(torn);
            o.Resume = "auto";
            Assert.True(run.Run(o).Completed);
        }
        Assert.Equal(IterationLogs.Deterministic(straight), IterationLogs.Deterministic(torn));
        Assert.Equal(CsvLog.Read(Path.Combine(straight, RunFiles.EpochsCsv)).Count, CsvLog.Read(Path.Combine(torn, RunFiles.EpochsCsv)).Count);
        Assert.Empty(Directory.GetFiles(torn, "*.tmp*"));
        Assert.Empty(Directory.GetFiles(torn, ".*.tmp"));
        AssertSameCheckpoints(straight, torn, ["student", "student_ema"]);
    }

    [Fact]
    public void A_second_run_in_a_live_runs_folder_is_refused_and_a_stale_lock_is_taken_over()
    {
        var dir = Path.Combine(_dir, "locked");
        Directory.CreateDirectory(dir);
        var lockPath = Path.Combine(dir, OutputFolderLock.FileName);
        // pid 1 is always alive on Linux: a live owner on this host.
        File.WriteAllText(lockPath, $"{{\"pid\":1,\"host\":\"{Environment.MachineName}\",\"started\":\"2026-01-01T00:00:00Z\",\"token\":\"x\"}}");
        using (var run = new SharedPairRun())
        {
            var e = Assert.Throws<OutputFolderLockedException>(() => run.Run(LoopOptions(dir)));
            Assert.Contains("pid 1", e.Message);
            Assert.Contains(dir, e.Message);
        }
        Assert.False(File.Exists(Path.Combine(dir, RunFiles.LatestCheckpoint)));
        // A lock from another machine cannot be checked, so it is refused too.
        File.WriteAllText(lockPath, "{\"pid\":1,\"host\":\"elsewhere\",\"started\":\"2026-01-01T00:00:00Z\",\"token\":\"x\"}");
        Assert.Throws<OutputFolderLockedException>(() => OutputFolderLock.Acquire(dir));
        // A dead owner (no such pid) and a torn lock file are stale.
        File.WriteAllText(lockPath, $"{{\"pid\":{int.MaxValue - 7},\"host\":\"{Environment.MachineName}\",\"started\":\"x\",\"token\":\"x\"}}");
        using (var run = new SharedPairRun())
        {
            Assert.True(run.Run(LoopOptions(dir)).Completed);
        }
        File.WriteAllText(lockPath, "{\"pid\":");
        using (OutputFolderLock.Acquire(dir))
        {
            Assert.Throws<OutputFolderLockedException>(() => OutputFolderLock.Acquire(dir) is null);
        }
        Assert.False(File.Exists(lockPath));
    }

    [Fact]
    public void A_checkpoint_position_outside_the_run_is_refused_on_resume()
    {
        var dir = Path.Combine(_dir, "position");
        using (var run = new SharedPairRun())
        {
            run.Run(LoopOptions(dir), stopAfter: 2);
        }
        using (var run = new SharedPairRun())
        {
            // The same checkpoint rewritten as if at epoch 1000 (a crafted or foreign file).
            var parts = run.Task.CheckpointParts.Append(new CheckpointPart("student_ema", [])).ToList();
            VkD.Training.Checkpoints.TrainingCheckpoint.Save(Path.Combine(dir, RunFiles.LatestCheckpoint), new RunState { NextEpoch = 1000 },
                parts, run.Task.Optimizers, 999, new Dictionary<string, object?>());
            var o = LoopOptions(dir);
            o.Resume = "auto";
            o.StudentEma = false;
            var e = Assert.Throws<InvalidDataException>(() => run.Run(o));
            Assert.Contains("epoch 1001", e.Message); // printed 1-based: next_epoch 1000 is the 1001st epoch
            Assert.Contains("--epochs", e.Message);
        }
    }

    private sealed class CancelAfter(CancellationTokenSource source, int steps) : ITrainingObserver
    {
        private int _seen;

        public void OnIteration(IterationReport report)
        {
            if (++_seen == steps)
            {
                source.Cancel();
            }
        }
    }

    [Fact]
    public void A_stop_request_saves_the_position_at_the_next_step_and_the_resume_is_bit_exact()
    {
        var straight = Path.Combine(_dir, "straight");
        using (var run = new SharedPairRun())
        {
            run.Run(LoopOptions(straight));
        }
        var stopped = Path.Combine(_dir, "stopped");
        using (var cts = new CancellationTokenSource())
        using (var run = new SharedPairRun())
        {
            var o = LoopOptions(stopped);
            o.SaveEveryIters = 0;
            var e = Assert.Throws<TrainingInterruptedException>(() => run.Run(o, stop: cts.Token, observer: new CancelAfter(cts, 3)));
            Assert.Equal(0, e.Epoch);
            Assert.Equal(3, e.Iteration);
            Assert.Contains("--resume auto", e.Message);
            using var ckpt = CheckpointReader.Read(e.Checkpoint!);
            Assert.Equal(3L, Convert.ToInt64(ckpt.Entries["next_batch"], CultureInfo.InvariantCulture));
        }
        using (var run = new SharedPairRun())
        {
            var o = LoopOptions(stopped);
            o.Resume = "auto";
            Assert.Equal(5, run.Run(o).Steps);
        }
        AssertSameCheckpoints(straight, stopped, ["student", "student_ema"]);
    }

    private static void AssertSameCheckpoints(string a, string b, IReadOnlyList<string> entries)
    {
        using var ca = CheckpointReader.Read(Path.Combine(a, RunFiles.LatestCheckpoint));
        using var cb = CheckpointReader.Read(Path.Combine(b, RunFiles.LatestCheckpoint));
        foreach (var entry in entries)
        {
            var sa = ca.StateDictEntry(entry);
            var sb = cb.StateDictEntry(entry);
            Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
            foreach (var (k, t) in sa)
            {
                Assert.True(t.eq(sb[k]).all().item<bool>(), $"{entry}.{k} differs after resume");
            }
        }
    }
}
