using VkD.Interop.Checkpoints;
using VkD.Tests.Training;
using VkD.Training.Logging;
using VkD.Training.Options;
using VkD.Training.Sessions;

namespace VkD.Tests.Distillation.Methods;

/// <summary>A method with state of its own (CRD's memory bank and normalisation constants, FitNets' BatchNorm
/// statistics) resumes bit-exactly: the state is in the checkpoint and the negatives come from the loop's per-step seed.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class MethodResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-method-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainingOptions Run(string dir, string method, string options)
    {
        // 2 epochs x 2 steps, a checkpoint after every step.
        var o = TrainingTestData.Tiny(dir, epochs: 2);
        o.TrainSubset = 64;
        o.EvalSubset = 32;
        o.Teacher = "resnet32";
        o.TeacherPath = TrainingTestData.TeacherPath;
        o.DistillMethod = method;
        o.MethodOptions = options;
        o.SaveEveryIters = 1;
        return o;
    }

    [Theory]
    [InlineData("crd", "k=30", "crd.contrast.memory_v1")]
    [InlineData("fitnet", "", "fitnet.regressor.bn.running_mean")]
    public void A_stateful_method_killed_mid_run_and_resumed_ends_bit_exact_with_an_uninterrupted_run(string method, string options, string stateKey)
    {
        var straight = Path.Combine(_dir, method + "-straight");
        var resumed = Path.Combine(_dir, method + "-resumed");
        TrainingSession.Run(SessionKind.Distill, Run(straight, method, options));
        Assert.False(TrainingSession.Run(SessionKind.Distill, Run(resumed, method, options), stopAfterSteps: 3).Completed);
        var again = Run(resumed, method, options);
        again.Resume = "auto";
        Assert.True(TrainingSession.Run(SessionKind.Distill, again).Completed);

        using var a = CheckpointReader.Read(Path.Combine(straight, RunFiles.LatestCheckpoint));
        using var b = CheckpointReader.Read(Path.Combine(resumed, RunFiles.LatestCheckpoint));
        var sa = a.StateDictEntry("student");
        var sb = b.StateDictEntry("student");
        Assert.Contains(stateKey, sa.Keys);
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var (k, t) in sa)
        {
            Assert.True(t.eq(sb[k]).all().item<bool>(), $"{k} differs after resume");
        }
        Assert.Equal(IterationLogs.Deterministic(straight), IterationLogs.Deterministic(resumed));

        // The method's modules ride in the student entry; loading the checkpoint as a student (eval, --student-ckpt,
        // --teacher-path, export) skips them instead of failing the strict load on them.
        using var student = VkD.Models.ModelRegistry.Create("resnet8", new VkD.Models.ModelOptions(10, 28, 0, 1));
        var report = VkD.Training.Checkpoints.TrainingCheckpoint.LoadWeights(student, Path.Combine(straight, RunFiles.LatestCheckpoint));
        Assert.True(report.IsExact, report.Describe());
    }
}
