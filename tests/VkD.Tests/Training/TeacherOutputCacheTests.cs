using VkD.Data.Datasets;
using VkD.Data.Loading;
using VkD.Data.Transforms;
using VkD.Distillation.Teachers;
using VkD.Interop.Checkpoints;
using VkD.Training.Logging;
using VkD.Training.Options;
using VkD.Training.Sessions;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Tests.Training;

/// <summary>Issue 17: the teacher-output cache records K augmentations per image and replays them exactly; the
/// loader's cycled draws; the session around it (replay, exact resume, refusals).</summary>
[Collection(EndToEndCollection.Name)]
public sealed class TeacherOutputCacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-teacher-cache-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A teacher whose outputs are a fixed function of the images, counting its calls.</summary>
    private sealed class CountingTeacher(int classes, int dim) : ITeacher
    {
        public int Calls { get; private set; }

        public int FeatureDim => dim;

        public int NumClasses => classes;

        public TeacherOutputs Forward(Tensor images)
        {
            Calls++;
            var flat = images.flatten(1);
            // Values that bf16 cannot hold exactly, so a store that skipped the rounding would show.
            var features = (flat.narrow(1, 0, dim) * 1.2345678f) + 0.1f;
            return new TeacherOutputs(classes > 0 ? flat.narrow(1, dim, classes) * 3.3333333f : null, features);
        }

        public void Dispose()
        {
        }
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static readonly Dictionary<string, string> Identity = new(StringComparer.Ordinal) { ["teacher"] = "counting", ["seed"] = "1" };

    private static Tensor Images(int b, int seed)
    {
        using var g = new TorchSharp.torch.Generator((ulong)seed);
        return rand([b, 3, 4, 4], generator: g);
    }

    private TeacherOutputCache Open(int draws = 2, int images = 10, int classes = 5, int dim = 8, ScalarType stored = ScalarType.Float32,
        IReadOnlyDictionary<string, string>? identity = null) =>
        TeacherOutputCache.Open(Path.Combine(_dir, "cache"), identity ?? Identity, draws, images, classes, dim, stored);

    [Fact]
    public void An_fp32_record_replays_the_teachers_outputs_exactly_and_the_teacher_is_not_run_again()
    {
        var teacher = new CountingTeacher(5, 8);
        using var cache = Open();
        int[] indices = [3, 7, 0];
        var x = Images(3, 1);
        var first = cache.Forward(teacher, () => x, indices, epoch: 0);
        var direct = teacher.Forward(x);
        Assert.Equal(2, teacher.Calls);
        Assert.True(Same(first.Features, direct.Features));
        Assert.True(Same(first.Logits!, direct.Logits!));

        // Epoch 2 is draw 0 again: replayed, bit-exact, without calling the teacher or even making its images.
        var replay = cache.Forward(teacher, () => throw new InvalidOperationException("the teacher's images were made"), indices, epoch: 2);
        Assert.Equal(2, teacher.Calls);
        Assert.True(Same(replay.Features, direct.Features));
        Assert.True(Same(replay.Logits!, direct.Logits!));
        Assert.Equal((1, 1, 3), (cache.ReplayedBatches, cache.TeacherBatches, cache.RecordsPresent));

        // Epoch 1 is draw 1: not recorded yet.
        cache.Forward(teacher, () => x, indices, epoch: 1);
        Assert.Equal(3, teacher.Calls);
        Assert.Equal(6, cache.RecordsPresent);
    }

    [Fact]
    public void A_bf16_record_gives_the_same_rounded_values_when_recorded_and_when_replayed()
    {
        var teacher = new CountingTeacher(5, 8);
        using var cache = Open(stored: ScalarType.BFloat16);
        int[] indices = [1, 2];
        var x = Images(2, 2);
        var recorded = cache.Forward(teacher, () => x, indices, epoch: 0);
        var replayed = cache.Forward(teacher, () => x, indices, epoch: 0);
        var exact = teacher.Forward(x);
        Assert.True(Same(recorded.Features, replayed.Features));
        Assert.True(Same(recorded.Logits!, replayed.Logits!));
        Assert.True(Same(recorded.Features, exact.Features.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32)));
        Assert.False(Same(recorded.Features, exact.Features));
        Assert.True(recorded.Features.allclose(exact.Features, rtol: 1.0 / 128, atol: 0));
        Assert.Equal(TeacherOutputCache.ParseDtype("bf16"), cache.StoredType);
        Assert.Equal(8 + (5 + 8) * 2 + 6, cache.RecordBytes);
    }

    [Fact]
    public void A_batch_with_a_missing_record_runs_the_teacher_and_writes_only_what_was_missing()
    {
        var teacher = new CountingTeacher(0, 8);
        using var cache = Open(classes: 0);
        cache.Forward(teacher, () => Images(2, 3), [4, 5], epoch: 0);
        // Image 4 now comes with other pixels: its record must not be overwritten, so the batch gives the teacher's
        // new answer for it (the batch was run) but the record keeps the first.
        var mixed = cache.Forward(teacher, () => Images(2, 4), [4, 6], epoch: 0);
        Assert.Null(mixed.Logits);
        Assert.Equal(2, teacher.Calls);
        Assert.Equal(3, cache.RecordsPresent);
        Assert.True(cache.Contains(0, 6));
        Assert.False(cache.Contains(1, 6));
        var again = cache.Forward(teacher, () => Images(1, 9), [4], epoch: 0);
        Assert.Equal(2, teacher.Calls);
        Assert.True(Same(again.Features, new CountingTeacher(0, 8).Forward(Images(2, 3)).Features.narrow(0, 0, 1)));
    }

    [Fact]
    public void Records_survive_reopening_and_another_identity_gets_its_own_folder()
    {
        var teacher = new CountingTeacher(5, 8);
        string folder;
        using (var cache = Open())
        {
            cache.Forward(teacher, () => Images(2, 5), [0, 9], epoch: 1);
            folder = cache.Folder;
            Assert.Contains("\"seed\": \"1\"", File.ReadAllText(Path.Combine(folder, TeacherOutputCache.KeyFile)));
            // The same configuration in another process (here: a second open) is refused while the first is open.
            var busy = Assert.Throws<ArgumentException>(() => Open());
            Assert.Contains("in use", busy.Message);
        }
        using (var reopened = Open())
        {
            Assert.Equal(folder, reopened.Folder);
            Assert.Equal(2, reopened.RecordsPresent);
            reopened.Forward(teacher, () => Images(2, 5), [0, 9], epoch: 3);
            Assert.Equal(1, teacher.Calls);
            Assert.Contains("2 of 20 recorded", reopened.Describe());
        }
        using var other = Open(identity: new Dictionary<string, string>(Identity) { ["seed"] = "2" });
        Assert.NotEqual(folder, other.Folder);
        Assert.Equal(0, other.RecordsPresent);
    }

    [Fact]
    public void A_damaged_record_reads_as_missing_and_is_recorded_again()
    {
        var teacher = new CountingTeacher(5, 8);
        string file;
        long recordBytes;
        using (var cache = Open())
        {
            cache.Forward(teacher, () => Images(1, 6), [2], epoch: 0);
            file = Path.Combine(cache.Folder, TeacherOutputCache.DataFile);
            recordBytes = cache.RecordBytes;
        }
        // Record (draw 0, image 2) starts after the 4096-byte presence table; flip a byte of its payload.
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = 4096 + (2 * recordBytes) + 12;
            var b = fs.ReadByte();
            fs.Position--;
            fs.WriteByte((byte)(b ^ 0x40));
        }
        using var damaged = Open();
        var outputs = damaged.Forward(teacher, () => Images(1, 6), [2], epoch: 0);
        Assert.Equal(2, teacher.Calls);
        Assert.Equal(1, damaged.DamagedRecords);
        Assert.Equal(1, damaged.RecordsPresent);
        Assert.True(Same(outputs.Features, teacher.Forward(Images(1, 6)).Features));
        Assert.Contains("1 damaged record(s)", damaged.Summary());
    }

    [Fact]
    public void Bad_layouts_and_indices_are_refused_with_what_is_wrong()
    {
        Assert.Throws<ArgumentException>(() => Open(draws: 0));
        Assert.Contains("--teacher-cache-dtype fp16", Assert.Throws<ArgumentException>(() => TeacherOutputCache.ParseDtype("fp16")).Message);
        using var cache = Open();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cache.Forward(new CountingTeacher(5, 8), () => Images(1, 0), [10], 0));
        Assert.Contains("outside the cache's 10 images", e.Message);
        var wide = Assert.Throws<InvalidOperationException>(() => cache.Forward(new CountingTeacher(5, 9), () => Images(1, 0), [1], 0));
        Assert.Contains("[1, 9]", wide.Message);
    }

    [Fact]
    public void Cycled_draws_give_an_image_the_same_augmentation_every_K_epochs_whatever_its_position()
    {
        var pixels = new byte[20 * 12 * 12 * 3];
        new Random(5).NextBytes(pixels);
        var ds = new ArrayImageDataset(pixels, [.. Enumerable.Range(0, 20).Select(i => i % 4)], 12, 12, 3, ["a", "b", "c", "d"], "synthetic");
        var pipeline = TransformPipelines.Train(new TrainAugmentOptions { InputSize = 8, RandomErasingProbability = 0.5, AutoAugment = "rand-m9-mstd0.5-inc1" });
        var loader = new BatchLoader(ds, pipeline, 4, shuffle: true, seed: 3, numWorkers: 2, augmentationDraws: 2);
        Dictionary<int, float[]> ByImage(int epoch)
        {
            var map = new Dictionary<int, float[]>();
            foreach (var b in loader.GetEpoch(epoch))
            {
                using (b)
                {
                    for (var k = 0; k < b.Count; k++)
                    {
                        map[b.Indices[k]] = b.Images[k].data<float>().ToArray();
                    }
                }
            }
            return map;
        }
        var (e0, e1, e2) = (ByImage(0), ByImage(1), ByImage(2));
        Assert.NotEqual(loader.EpochIndices(0), loader.EpochIndices(2));
        Assert.All(e0.Keys, i => Assert.Equal(e0[i], e2[i]));
        Assert.Contains(e0.Keys, i => !e0[i].SequenceEqual(e1[i]));
        Assert.Equal(2, loader.AugmentationDrawCount);
    }

    private static TrainingOptions Cached(string output, string cache)
    {
        var o = TrainingTestData.Tiny(output, epochs: 3);
        o.Teacher = "resnet32";
        o.TeacherPath = TrainingTestData.TeacherPath;
        o.TeacherCache = cache;
        o.TeacherCacheDraws = 2;
        return o;
    }

    private static void AssertSameStudent(string a, string b)
    {
        using var ca = CheckpointReader.Read(Path.Combine(a, RunFiles.LatestCheckpoint));
        using var cb = CheckpointReader.Read(Path.Combine(b, RunFiles.LatestCheckpoint));
        var sa = ca.StateDictEntry("student");
        var sb = cb.StateDictEntry("student");
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var (k, t) in sa)
        {
            Assert.True(t.eq(sb[k]).all().item<bool>(), $"{k} differs");
        }
    }

    [Fact]
    public void A_distillation_run_replays_from_epoch_K_a_rerun_replays_everything_and_a_killed_run_resumes_exactly()
    {
        // 192 images in 6 batches of 32, 3 epochs, K = 2: epochs 1-2 record, epoch 3 replays.
        var first = Path.Combine(_dir, "first");
        var log = new RecordedMessages();
        Assert.True(TrainingSession.Run(SessionKind.Distill, Cached(first, Path.Combine(_dir, "c1")), log).Completed);
        Assert.Contains(log.Lines, l => l.StartsWith("teacher cache ", StringComparison.Ordinal) && l.Contains("0 of 384 recorded", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.StartsWith("teacher cache: 6 batch(es) replayed, the teacher run for 12; 384 of 384 records", StringComparison.Ordinal));

        // The same run again over the full cache: the teacher never runs, and the student ends identical.
        var again = Path.Combine(_dir, "again");
        var log2 = new RecordedMessages();
        TrainingSession.Run(SessionKind.Distill, Cached(again, Path.Combine(_dir, "c1")), log2);
        Assert.Contains(log2.Lines, l => l.StartsWith("teacher cache: 18 batch(es) replayed, the teacher run for 0; 384 of 384 records", StringComparison.Ordinal));
        AssertSameStudent(first, again);

        // Killed mid-epoch 2 with a cache of its own, resumed: the same student as the uninterrupted run.
        var killed = Path.Combine(_dir, "killed");
        var o = Cached(killed, Path.Combine(_dir, "c2"));
        o.SaveEveryIters = 1;
        Assert.False(TrainingSession.Run(SessionKind.Distill, o, stopAfterSteps: 8).Completed);
        var resumed = Cached(killed, Path.Combine(_dir, "c2"));
        resumed.Resume = "auto";
        Assert.True(TrainingSession.Run(SessionKind.Distill, resumed).Completed);
        AssertSameStudent(first, killed);
        Assert.Equal(IterationLogs.Deterministic(first), IterationLogs.Deterministic(killed));
    }

    [Fact]
    public void The_cache_is_refused_with_mixing_and_with_methods_that_read_teacher_maps()
    {
        var mixing = Cached(Path.Combine(_dir, "mix"), Path.Combine(_dir, "cm"));
        mixing.Mixup = 0.8;
        var e = Assert.Throws<ArgumentException>(() => TrainingSession.Run(SessionKind.Distill, mixing));
        Assert.Contains("--mixup 0 --cutmix 0", e.Message);

        var fitnet = Cached(Path.Combine(_dir, "fitnet"), Path.Combine(_dir, "cf"));
        fitnet.DistillMethod = "fitnet";
        var f = Assert.Throws<ArgumentException>(() => TrainingSession.Run(SessionKind.Distill, fitnet));
        Assert.Contains("inner maps", f.Message);
        // The refused run released its folder: the same configuration opens again.
        var retry = Cached(Path.Combine(_dir, "fitnet2"), Path.Combine(_dir, "cf"));
        retry.DistillMethod = "fitnet";
        Assert.Contains("inner maps", Assert.Throws<ArgumentException>(() => TrainingSession.Run(SessionKind.Distill, retry)).Message);

        var draws = Cached(Path.Combine(_dir, "draws"), Path.Combine(_dir, "cd"));
        draws.TeacherCacheDraws = 0;
        Assert.Contains("--teacher-cache-draws", Assert.Throws<ArgumentException>(() => TrainingSession.Run(SessionKind.Distill, draws)).Message);
    }
}
