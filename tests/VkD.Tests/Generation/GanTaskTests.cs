using System.Globalization;
using TorchSharp;
using VkD.Data.Datasets;
using VkD.Distillation.Normalization;
using VkD.Distillation.Teachers;
using VkD.Generation.Evaluation;
using VkD.Generation.Models;
using VkD.Generation.Training;
using VkD.Interop.Checkpoints;
using VkD.Tests.Training;
using VkD.Training.Logging;
using VkD.Training.Loop;
using VkD.Training.Options;
using static TorchSharp.torch;

namespace VkD.Tests.Generation;

/// <summary>A frozen random conv net as a teacher or FID feature network: conv 3×3 → ReLU → global mean pool.</summary>
internal sealed class RandomConvNetwork : ITeacher
{
    private readonly nn.Module<Tensor, Tensor> _net;

    public RandomConvNetwork(int inChannels, int features, int seed)
    {
        random.manual_seed(seed);
        _net = nn.Sequential(("0", nn.Conv2d(inChannels, features, 3, padding: 1)), ("1", nn.ReLU()));
        _net.eval();
        foreach (var p in _net.parameters())
        {
            p.requires_grad = false;
        }
        FeatureDim = features;
    }

    public int FeatureDim { get; }

    public int NumClasses => 0;

    public TeacherOutputs Forward(Tensor images)
    {
        using var _ = no_grad();
        return new TeacherOutputs(null, _net.call(images).mean([2, 3]));
    }

    public void Dispose() => _net.Dispose();
}

/// <summary>
/// The GAN as a task of the one loop on a tiny BigGAN and synthetic 16×16 data: the D phases and the G phase step
/// their own optimisers, LeCam switches on after its start, D is distilled through one projector shared by the real
/// and fake pairs with a whitened teacher, FID/KID and a sample grid come out at each epoch, and a run killed mid-way
/// resumes to the same G, D, EMA and LeCam state as the uninterrupted one.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class GanTaskTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-gan-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly BigGanConfig Tiny = new() { Ch = 2, DimZ = 8, NumClasses = 3, Channels = 1 };

    private static GanImageSet Images(int count, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[count * 16 * 16];
        var labels = new int[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = i % 3;
            for (var p = 0; p < 256; p++)
            {
                // Class-dependent stripes plus noise, so the classes differ.
                pixels[i * 256 + p] = (byte)Math.Clamp(((p / 16 + labels[i] * 5) % 16) * 14 + rng.Next(-20, 21), 0, 255);
            }
        }
        return new GanImageSet(new ArrayImageDataset(pixels, labels, 16, 16, 1, ["a", "b", "c"], "synthetic"));
    }

    private sealed class Run : IDisposable
    {
        private readonly RandomConvNetwork _teacher = new(3, 8, seed: 21);
        private readonly RandomConvNetwork _features = new(1, 6, seed: 22);
        private readonly RealFeatureReference _reference;

        public Run(string gridFolder, bool distill = true)
        {
            var adapter = new GanImageAdapter(16, 0, 1, [0.5], [0.5]);
            _reference = RealFeatureReference.Compute(Images(24, 9), _features, adapter, key: "test");
            var evaluator = new GanEvaluator(_features, adapter, _reference, new GanEvaluationOptions { Samples = 24, BatchSize = 10, KidSubsets = 3, KidSubsetSize = 12 });
            random.manual_seed(5);
            Task = new GanTask(Tiny, new GanTrainingOptions { BatchSize = 4, DSteps = 2, LeCamStart = 2, GridFolder = gridFolder, GridPerClass = 4 },
                distill
                    ? new GanDistillationSetup
                    {
                        Teacher = _teacher,
                        TeacherInput = GanImageAdapter.ImageNet(16, 16),
                        TeacherNormalization = new Whitening(WhiteningMethod.Zca, 0.1, ShrinkageTarget.ScaledIdentity),
                    }
                    : null,
                evaluator);
        }

        public GanTask Task { get; }

        public LoopResult Train(TrainingOptions o, long? stopAfter = null) => new TrainingLoop<GanBatch>(new LoopSetup<GanBatch>
        {
            Task = Task,
            Train = new GanBatchSource(Images(48, 1), Task.ImagesPerBatch, seed: o.Seed),
            Options = o,
            StopAfterSteps = stopAfter,
        }).Run();

        public void Dispose()
        {
            Task.Dispose();
            _reference.Dispose();
            _teacher.Dispose();
            _features.Dispose();
        }
    }

    private static TrainingOptions LoopOptions(string dir) => new()
    {
        Epochs = 2,
        BatchSize = 8,
        Lr = 2e-4,
        MinLr = 2e-4,
        WeightDecay = 0,
        Seed = 3,
        SaveEvery = 1,
        SaveEveryIters = 2,
        StudentEma = true,
        StudentEmaDecay = 0.9,
        OutputDir = dir,
    };

    [Fact]
    public void A_distilled_GAN_run_logs_every_phase_steps_both_optimisers_evaluates_and_resumes_bit_exactly_after_a_kill()
    {
        var straight = Path.Combine(_dir, "straight");
        using (var run = new Run(straight))
        {
            var projector = run.Task.Distiller!.Projectors.Values.Single();
            Assert.Equal(8, projector.InFeatures);
            using var before = projector.ComputeWeight().detach().clone();
            var result = run.Train(LoopOptions(straight));
            Assert.True(result.Completed);
            Assert.Equal(12, result.Steps);
            // One projector serves both pairs; D's loss moved it and it is still orthonormal.
            using var w = projector.ComputeWeight().detach();
            Assert.True((w - before).abs().max().item<float>() > 1e-6);
            Assert.True(Distillation.Parity.OrthogonalityError(w) < 1e-5);
            Assert.NotNull(result.Final);
            Assert.True(double.IsFinite(result.Final!["fid"]) && result.Final["fid"] > 0);
            Assert.NotNull(result.FinalEma);
        }
        Assert.Equal("epoch,itr,lr,d_real,d_fake,lecam,distill_real,distill_fake,g_adv,total,seconds", File.ReadLines(Path.Combine(straight, RunFiles.IterationsCsv)).First());
        var rows = CsvLog.Read(Path.Combine(straight, RunFiles.IterationsCsv));
        Assert.Equal(12, rows.Count);
        double Value(Dictionary<string, string> r, string k) => double.Parse(r[k], CultureInfo.InvariantCulture);
        // LeCam applies after iteration 2 (itr = step + 1 > start), the distillation terms at every step.
        Assert.Equal(0.0, Value(rows[0], "lecam"));
        Assert.Equal(0.0, Value(rows[1], "lecam"));
        Assert.All(rows.Skip(2), r => Assert.True(Value(r, "lecam") >= 0));
        Assert.Contains(rows.Skip(2), r => Value(r, "lecam") > 0);
        Assert.All(rows, r => Assert.True(Value(r, "distill_real") > 0 && Value(r, "distill_fake") > 0));
        var epochs = CsvLog.Read(Path.Combine(straight, RunFiles.EpochsCsv));
        Assert.Equal(2, epochs.Count);
        Assert.All(epochs, e => Assert.True(Value(e, "fid") > 0 && Value(e, "ema_fid") > 0 && double.IsFinite(Value(e, "kid"))));
        Assert.True(File.Exists(Path.Combine(straight, "samples_epoch002.png")));
        Assert.True(File.Exists(Path.Combine(straight, "samples_epoch002_ema.png")));
        using (var ckpt = CheckpointReader.Read(Path.Combine(straight, RunFiles.LatestCheckpoint)))
        {
            foreach (var entry in new[] { "generator", "discriminator", "generator_ema", "lecam", "optimizer_d", "optimizer_g" })
            {
                Assert.True(ckpt.Entries.ContainsKey(entry), $"checkpoint lacks '{entry}'");
            }
            Assert.Contains("projector.parametrizations.weight.original", ckpt.StateDictEntry("discriminator").Keys);
            Assert.Contains("linear_cls_2.u0", ckpt.StateDictEntry("discriminator").Keys);
            // D's Adam stepped in each of the 2 D phases of the 12 steps, G's once per step.
            foreach (var (entry, steps) in new[] { ("optimizer_d", 24.0), ("optimizer_g", 12.0) })
            {
                var state = (IDictionary<object, object?>)((IReadOnlyDictionary<string, object?>)ckpt.Entries[entry]!)["state"]!;
                Assert.NotEmpty(state);
                Assert.All(state.Values, s => Assert.Equal(steps, ((Tensor)((IReadOnlyDictionary<string, object?>)s!)["step"]!).ToDouble()));
            }
        }

        var resumed = Path.Combine(_dir, "resumed");
        using (var run = new Run(resumed))
        {
            Assert.False(run.Train(LoopOptions(resumed), stopAfter: 5).Completed);
        }
        using (var run = new Run(resumed))
        {
            var o = LoopOptions(resumed);
            o.Resume = "auto";
            // Killed after step 5; the mid-epoch save after batch 4 leaves batches 4.. of epoch 0 and all of epoch 1.
            Assert.Equal(8, run.Train(o).Steps);
        }
        AssertSameState(straight, resumed, ["generator", "discriminator", "generator_ema", "lecam"]);
        Assert.Equal(IterationLogs.Deterministic(straight), IterationLogs.Deterministic(resumed));
        Assert.Equal(File.ReadAllText(Path.Combine(straight, RunFiles.EpochsCsv)).Split('\n').Select(l => string.Join(',', l.Split(',').SkipLast(1))),
            File.ReadAllText(Path.Combine(resumed, RunFiles.EpochsCsv)).Split('\n').Select(l => string.Join(',', l.Split(',').SkipLast(1))));
    }

    [Fact]
    public void Epochs_of_a_fixed_number_of_iterations_continue_the_stream_of_passes_and_resume_anywhere()
    {
        var images = Images(30, 2);
        var passes = new GanBatchSource(images, 4, seed: 9); // 7 batches per pass
        Assert.Equal(7, passes.BatchesPerEpoch);
        var stream = Enumerable.Range(0, 3).SelectMany(p => passes.GetEpoch(p)).ToList();
        var chunked = new GanBatchSource(images, 4, seed: 9, iterationsPerEpoch: 5);
        Assert.Equal(5, chunked.BatchesPerEpoch);
        var chunks = Enumerable.Range(0, 4).SelectMany(e => chunked.GetEpoch(e)).ToList(); // 20 of the 21 batches
        for (var i = 0; i < chunks.Count; i++)
        {
            Assert.Equal(stream[i].Indices, chunks[i].Indices);
            Assert.True(stream[i].Images.eq(chunks[i].Images).all().item<bool>(), $"batch {i}: images (flips) differ");
        }
        // A resume in the middle of epoch 2 (stream batch 13, the last of pass 1, then the first of pass 2) gives the same batches.
        var resumed = chunked.GetEpoch(2, startBatch: 3).ToList();
        Assert.Equal(chunks[13].Indices, resumed[0].Indices);
        Assert.Equal(chunks[14].Indices, resumed[1].Indices);
        foreach (var b in stream.Concat(chunks).Concat(resumed))
        {
            b.Dispose();
        }
    }

    [Fact]
    public void Without_distillation_D_has_no_feature_head_and_the_terms_are_the_GAN_losses()
    {
        var dir = Path.Combine(_dir, "plain");
        using var run = new Run(dir, distill: false);
        Assert.Null(run.Task.Distiller);
        Assert.False(run.Task.Config.FeatureHead);
        Assert.Equal(["d_real", "d_fake", "lecam", "g_adv"], run.Task.TermNames);
        var o = LoopOptions(dir);
        o.Epochs = 1;
        o.StudentEma = false;
        Assert.True(run.Train(o).Completed);
        using var ckpt = CheckpointReader.Read(Path.Combine(dir, RunFiles.LatestCheckpoint));
        Assert.DoesNotContain(ckpt.StateDictEntry("discriminator").Keys, k => k.StartsWith("linear_cls", StringComparison.Ordinal) || k.StartsWith("projector", StringComparison.Ordinal));
    }

    [Fact]
    public void A_batch_of_the_wrong_size_is_refused_naming_the_sizes()
    {
        using var run = new Run(Path.Combine(_dir, "bad"), distill: false);
        using var batch = new GanBatch(zeros(5, 1, 32, 32), zeros(5, dtype: ScalarType.Int64), [0, 1, 2, 3, 4]);
        var e = Assert.Throws<ArgumentException>(() => run.Task.ComputeLoss(0, batch, new StepContext(0, 0, 0, 1)));
        Assert.Contains("2 x 4 = 8", e.Message);
    }

    private static void AssertSameState(string a, string b, IReadOnlyList<string> entries)
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
                Assert.True(t.eq(sb[k]).all().item<bool>(), $"{entry}.{k} differs after the kill and resume");
            }
        }
    }
}
