using System.Globalization;
using VkD.Interop.Checkpoints;
using VkD.Training.Logging;
using VkD.Training.Sessions;
using static TorchSharp.torch;

namespace VkD.Tests.Training;

[Collection(EndToEndCollection.Name)]
public sealed class TrainerEndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Supervised_run_lowers_the_loss_and_writes_checkpoints_logs_plots_and_a_summary()
    {
        var o = TrainingTestData.Tiny(_dir, epochs: 3);
        o.Lr = 5e-3;
        var result = TrainingSession.Run(SessionKind.Train, o);

        Assert.True(result.Completed);
        foreach (var f in new[] { RunFiles.LatestCheckpoint, RunFiles.BestCheckpoint, RunFiles.EpochCheckpoint(1), RunFiles.FinalWeights,
                     RunFiles.IterationsCsv, RunFiles.EpochsCsv, RunFiles.SummaryJson, RunFiles.ConfigJson, RunFiles.LossPlot, RunFiles.AccuracyPlot })
        {
            Assert.True(File.Exists(Path.Combine(_dir, f)), $"{f} was not written");
        }
        Assert.Equal(string.Join(',', RunFiles.IterationColumns), File.ReadLines(Path.Combine(_dir, RunFiles.IterationsCsv)).First());
        Assert.Equal(string.Join(',', RunFiles.EpochColumns), File.ReadLines(Path.Combine(_dir, RunFiles.EpochsCsv)).First());
        var epochs = CsvLog.Read(Path.Combine(_dir, RunFiles.EpochsCsv));
        Assert.Equal(3, epochs.Count);
        var first = double.Parse(epochs[0]["train_loss"], CultureInfo.InvariantCulture);
        var last = double.Parse(epochs[^1]["train_loss"], CultureInfo.InvariantCulture);
        Assert.True(last < first - 0.1, $"training loss did not go down: {first} -> {last}");
        Assert.Equal(18, CsvLog.Read(Path.Combine(_dir, RunFiles.IterationsCsv)).Count);

        // The checkpoint has the reference's layout and PyTorch-readable entries.
        using var ckpt = CheckpointReader.Read(Path.Combine(_dir, RunFiles.LatestCheckpoint));
        foreach (var key in new[] { "student", "student_ema", "optimizer", "epoch", "loss", "batch_size", "world_size", "lr" })
        {
            Assert.True(ckpt.Entries.ContainsKey(key), $"checkpoint lacks '{key}'");
        }
        Assert.Equal(2L, Convert.ToInt64(ckpt.Entries["epoch"], CultureInfo.InvariantCulture));

        // vkd eval on the saved checkpoint reproduces the accuracy logged at the end of training.
        var eval = EvaluationSession.Run(new EvalRequest
        {
            Checkpoint = Path.Combine(_dir, RunFiles.LatestCheckpoint),
            DataSet = "fashion-mnist",
            DataPath = TrainingTestData.DataPath,
            EvalSubset = 96,
            BatchSize = 40,
            NumWorkers = 1,
        });
        Assert.Equal("resnet8", eval.Model);
        Assert.Equal(double.Parse(epochs[^1]["acc1"], CultureInfo.InvariantCulture), eval.Metrics.Acc1, 9);
        Assert.Equal(result.Final!.Acc1, eval.Metrics.Acc1, 9);
        Assert.Equal(result.Final.Loss, eval.Metrics.Loss, 4);
    }

    [Fact]
    public void Distillation_killed_mid_epoch_and_resumed_ends_bit_exact_with_an_uninterrupted_run()
    {
        // Mixup, EMA, the orthogonal projector and the teacher are all on, so every source of state is exercised.
        var straightDir = Path.Combine(_dir, "straight");
        var resumedDir = Path.Combine(_dir, "resumed");
        TrainingSession.Run(SessionKind.Distill, Distill(straightDir));

        var partial = TrainingSession.Run(SessionKind.Distill, Distill(resumedDir), stopAfterSteps: 10);
        Assert.False(partial.Completed);
        var resume = Distill(resumedDir);
        resume.Resume = "auto";
        var resumed = TrainingSession.Run(SessionKind.Distill, resume);
        Assert.True(resumed.Completed);
        // 2 epochs x 6 steps. Killed after 10 steps (the last was epoch 1, batch 3); the mid-epoch checkpoint was written
        // after batch 2 of epoch 1, so the resumed run redoes the lost batch 3 and finishes with batches 4-5.
        Assert.Equal(3, resumed.Steps);

        using var a = CheckpointReader.Read(Path.Combine(straightDir, RunFiles.LatestCheckpoint));
        using var b = CheckpointReader.Read(Path.Combine(resumedDir, RunFiles.LatestCheckpoint));
        foreach (var entry in new[] { "student", "student_ema" })
        {
            var sa = a.StateDictEntry(entry);
            var sb = b.StateDictEntry(entry);
            Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
            Assert.Contains(sa.Keys, k => k.StartsWith("projector.", StringComparison.Ordinal) || entry == "student_ema");
            foreach (var (k, t) in sa)
            {
                Assert.True(t.eq(sb[k]).all().item<bool>(), $"{entry}.{k} differs after resume");
            }
        }
        Assert.Equal(IterationLogs.Deterministic(straightDir), IterationLogs.Deterministic(resumedDir));
    }

    [Fact]
    public void Divergence_stops_training_naming_the_step_and_every_checkpoint_on_disk_stays_finite()
    {
        // Issue 18.3: the update of step 1 overflows the weights (warmup from 1e-4 to 1e30). Before, the mid-epoch
        // checkpoint written after that step already held inf weights, so resuming with a lower rate failed at once.
        var o = TrainingTestData.Tiny(_dir, epochs: 2);
        o.Lr = 1e30;
        o.WarmupEpochs = 1;
        o.WarmupLr = 1e-4;
        o.SaveEveryIters = 1;
        var e = Assert.Throws<VkD.Training.Loop.NonFiniteLossException>(() => TrainingSession.Run(SessionKind.Train, o));
        Assert.Contains($"epoch {e.Epoch}, iteration {e.Iteration}", e.Message);
        Assert.Contains("ce=", e.Message);
        Assert.Contains("every checkpoint on disk holds a finite state", e.Message);
        Assert.True(e.GlobalStep >= 1);
        using (var ckpt = CheckpointReader.Read(Path.Combine(_dir, RunFiles.LatestCheckpoint)))
        {
            Assert.Equal(e.Iteration, Convert.ToInt64(ckpt.Entries["next_batch"], CultureInfo.InvariantCulture));
            foreach (var (k, t) in ckpt.StateDictEntry("student"))
            {
                Assert.True(!t.is_floating_point() || isfinite(t).all().item<bool>(), $"{k} is not finite in the saved checkpoint");
            }
        }
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));
    }

    [Fact]
    public void A_checkpoint_holding_inf_is_never_written()
    {
        using var model = VkD.Models.ModelRegistry.Create("resnet8", new VkD.Models.ModelOptions(10, 28, 0, 1));
        using var optimizer = new VkD.Training.Optim.AdamWOptimizer(VkD.Training.Optim.WeightDecayGroups.Build(model.named_parameters().Select(p => (p.name, p.parameter)), 0), 1e-3);
        var parts = new[] { new VkD.Training.Loop.CheckpointPart("student", [model]) };
        var optimizers = new[] { new VkD.Training.Loop.TaskOptimizer("optimizer", optimizer) };
        var path = Path.Combine(_dir, "x.pth.tar");
        using (no_grad())
        {
            // A BatchNorm statistic, not a parameter: the per-step parameter check cannot see it, the save must.
            model.state_dict().First(kv => kv.Key.EndsWith("running_var", StringComparison.Ordinal)).Value[0] = float.PositiveInfinity;
        }
        var e = Assert.Throws<VkD.Training.Checkpoints.NonFiniteStateException>(() => VkD.Training.Checkpoints.TrainingCheckpoint.Save(
            path, new VkD.Training.Loop.RunState(), parts, optimizers, 0, new Dictionary<string, object?>()));
        Assert.Contains("student.", e.Message);
        Assert.Contains("running_var", e.Message);
        Assert.False(File.Exists(path));
    }

    private static VkD.Training.Options.TrainingOptions Distill(string dir)
    {
        var o = TrainingTestData.TinyDistillation(dir, epochs: 2);
        o.TrainSubset = 192;
        o.SaveEveryIters = 3;
        return o;
    }
}
