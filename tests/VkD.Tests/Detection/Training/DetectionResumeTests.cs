using VkD.Detection.Models;
using VkD.Detection.Training;
using VkD.Interop.Checkpoints;
using VkD.Tests.Training;
using VkD.Training.Logging;
using static TorchSharp.torch;

namespace VkD.Tests.Detection.Training;

/// <summary>Detection runs stopped mid-epoch (as a kill would stop them: <c>LoopSetup.StopAfterSteps</c>, no end-of-run
/// files) and resumed from their last mid-epoch checkpoint end with the same weights, projectors and optimiser state
/// as the uninterrupted run, bit for bit.</summary>
public sealed class DetectionResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-det-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DetectionTrainingOptions Options(string data, string output, DetectionDistillation distillation, string? teacher, string resume = "") => new()
    {
        CocoPath = data,
        Model = DetectionTrainingTestData.Tiny(),
        AuxLoss = true,
        PreTrained = "none",
        Distillation = distillation,
        DistilModelPath = teacher,
        TeacherNHeads = 4,
        TeacherDecNPoints = 2,
        Epochs = 2,
        BatchSize = 2,
        NumWorkers = 1,
        TrainSize = 64,
        EvalSize = 64,
        Seed = 7,
        OutputDir = output,
        Resume = resume,
        SaveEveryIters = 1,
        SaveEvery = 0,
        Threads = 1,
    };

    private static Dictionary<string, Tensor> Entry(string checkpoint, string entry)
    {
        using var c = CheckpointReader.Read(checkpoint);
        return c.StateDictEntry(entry).ToDictionary(kv => kv.Key, kv => kv.Value.clone());
    }

    [Theory]
    [InlineData(DetectionDistillation.None)]
    [InlineData(DetectionDistillation.Vkd)]
    public void A_run_killed_mid_epoch_and_resumed_ends_with_the_uninterrupted_runs_weights(DetectionDistillation distillation)
    {
        var data = DetectionTrainingTestData.MakeSets(Path.Combine(_dir, "data"));
        string? teacher = null;
        if (distillation != DetectionDistillation.None)
        {
            manual_seed(5);
            using var t = new VidtDetector(DetectionTrainingTestData.Tiny(embed: 8, boxRefine: false));
            teacher = Path.Combine(_dir, "teacher.pth");
            VidtCheckpoint.Save(t, teacher);
        }
        var straight = Path.Combine(_dir, "straight");
        var full = DetectionTraining.Run(Options(data, straight, distillation, teacher));
        Assert.True(full.Loop.Completed);
        Assert.Equal(6, full.Loop.Steps); // 2 epochs x 3 batches of 2

        // Killed after 4 steps: epoch 1, iteration 1; latest.pth.tar holds that position.
        var killed = Path.Combine(_dir, "killed");
        var first = DetectionTraining.Run(Options(data, killed, distillation, teacher), stopAfterSteps: 4);
        Assert.False(first.Loop.Completed);
        Assert.Null(first.VidtCheckpointPath);
        Assert.False(File.Exists(Path.Combine(killed, RunFiles.SummaryJson)));
        var resumed = DetectionTraining.Run(Options(data, killed, distillation, teacher, resume: "auto"));
        Assert.True(resumed.Loop.Completed);
        Assert.Equal(2, resumed.Loop.Steps);

        var expected = Entry(Path.Combine(straight, RunFiles.LatestCheckpoint), "student");
        var actual = Entry(Path.Combine(killed, RunFiles.LatestCheckpoint), "student");
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        Assert.Equal(distillation == DetectionDistillation.Vkd, expected.Keys.Any(k => k.StartsWith("patch_projector_1.", StringComparison.Ordinal)));
        foreach (var (key, value) in expected)
        {
            Assert.True(value.eq(actual[key]).all().item<bool>(), $"{key} differs after the resume");
        }
        using (var a = CheckpointReader.Read(Path.Combine(straight, RunFiles.LatestCheckpoint)))
        using (var b = CheckpointReader.Read(Path.Combine(killed, RunFiles.LatestCheckpoint)))
        {
            // AdamW's moments of every parameter, bit for bit.
            static System.Collections.IDictionary State(Checkpoint c) =>
                (System.Collections.IDictionary)((IReadOnlyDictionary<string, object?>)c.Entries["optimizer"]!)["state"]!;
            var (sa, sb) = (State(a), State(b));
            Assert.Equal(sa.Count, sb.Count);
            Assert.True(sa.Count > 0);
            foreach (System.Collections.DictionaryEntry e in sa)
            {
                var pa = (IReadOnlyDictionary<string, object?>)e.Value!;
                var pb = (IReadOnlyDictionary<string, object?>)sb[e.Key]!;
                foreach (var moment in new[] { "exp_avg", "exp_avg_sq", "step" })
                {
                    Assert.True(((Tensor)pa[moment]!).eq((Tensor)pb[moment]!).all().item<bool>(), $"optimizer state {e.Key}.{moment} differs");
                }
            }
        }
        // The epoch log (AP at every epoch, training loss) is the same; only the wall times differ.
        static string[] Rows(string dir) => [.. File.ReadAllLines(Path.Combine(dir, RunFiles.EpochsCsv)).Select(l => string.Join(",", l.Split(',')[..^1]))];
        Assert.Equal(Rows(straight), Rows(killed));
        Assert.Equal(IterationLogs.Deterministic(straight), IterationLogs.Deterministic(killed));

        // The final ViDT-layout checkpoint loads back strictly.
        using var model = new VidtDetector(DetectionTrainingTestData.Tiny());
        Assert.True(VidtCheckpoint.Load(model, resumed.VidtCheckpointPath!).IsExact);
        foreach (var d in expected.Values.Concat(actual.Values))
        {
            d.Dispose();
        }
    }
}
