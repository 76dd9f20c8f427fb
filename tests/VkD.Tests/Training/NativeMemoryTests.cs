using VkD.Training.Loop;
using VkD.Training.Sessions;

namespace VkD.Tests.Training;

/// <summary>
/// The leak guard of issue 17: the number of live TorchSharp tensors is flat across 200+ distillation steps (student,
/// teacher, projector, EMA, mixup/cutmix, per-epoch evaluation and checkpoints). A tensor left to the garbage
/// collector instead of a dispose scope holds native memory until some later GC, so "flat" means exactly flat: the
/// count after every step equals the count after the first steady step. The loader runs inline (no workers) so that
/// every tensor is created and disposed on this thread, where TorchSharp's per-thread statistics count it.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class NativeMemoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-leak-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Live_tensors_are_flat_across_two_hundred_distillation_steps()
    {
        var o = TrainingTestData.TinyDistillation(_dir, epochs: 9);
        o.BatchSize = 8; // 24 steps per epoch, 216 in all
        o.NumWorkers = 0;
        var counter = new LiveTensorCounter();
        TrainingSession.Run(SessionKind.Distill, o, counter);

        Assert.True(counter.Counts.Count >= 200, $"{counter.Counts.Count} steps");
        // Step 1 creates the optimizer's moments and the EMA copy; from the second epoch on nothing may accumulate.
        var steady = counter.Counts[24];
        var growth = counter.Counts.Skip(24).Select((c, i) => (Step: i + 25, Extra: c - steady)).Where(s => s.Extra > 0).ToList();
        var perEpoch = string.Join(" ", counter.Counts.Where((_, i) => i % 24 == 0));
        Assert.True(growth.Count == 0,
            $"live tensors grew after step 25 (count {steady}; at each epoch's first step: {perEpoch}): " +
            string.Join(", ", growth.Take(10).Select(g => $"step {g.Step}: +{g.Extra}")));
    }

    private sealed class LiveTensorCounter : ITrainingObserver
    {
        public List<long> Counts { get; } = [];

        public void OnIteration(IterationReport report) =>
            Counts.Add(TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
