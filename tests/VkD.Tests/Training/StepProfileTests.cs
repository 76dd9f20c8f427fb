using System.Diagnostics;
using VkD.Training.Loop;
using VkD.Training.Sessions;

namespace VkD.Tests.Training;

/// <summary>Issue 17: where a step's time goes, by part, from the loop and the task, printed at the end of a run.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class StepProfileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-step-profile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Parts_are_averaged_per_step_and_the_rest_of_the_step_is_other()
    {
        var p = new StepProfile();
        var second = Stopwatch.Frequency;
        p.Add(StepProfile.Teacher, 2 * second);
        p.Add(StepProfile.Backward, second);
        p.EndStep(4 * second);
        p.Add(StepProfile.Teacher, 4 * second);
        p.EndStep(6 * second);

        var rows = p.PerStep();
        Assert.Equal([StepProfile.Teacher, StepProfile.Backward, "other"], rows.Select(r => r.Part));
        Assert.Equal(3.0, rows[0].Seconds, 9);
        Assert.Equal(0.5, rows[1].Seconds, 9);
        Assert.Equal(1.5, rows[2].Seconds, 9);
        Assert.Equal(5.0, p.SecondsPerStep, 9);
        Assert.Equal("Time per step over 2 steps: 5.00 s; teacher 3.00 s (60%), backward 500.0 ms (10%), other 1.50 s (30%).", p.Describe());

        p.Reset();
        Assert.Empty(p.PerStep());
        Assert.Equal(0, p.Steps);
    }

    [Fact]
    public void A_null_profile_times_nothing()
    {
        using (StepProfile.Time(null, StepProfile.Teacher))
        {
        }
        var p = new StepProfile();
        using (StepProfile.Time(p, StepProfile.Loss))
        {
            Thread.Sleep(5);
        }
        Assert.True(p.PerStep().Count == 0 && p.Steps == 0);
        p.EndStep(Stopwatch.Frequency);
        Assert.True(p.PerStep()[0] is { Part: StepProfile.Loss, Seconds: > 0.004 });
    }

    [Fact]
    public void A_distillation_run_times_every_part_of_every_step_and_prints_the_breakdown()
    {
        var o = TrainingTestData.Tiny(Path.Combine(_dir, "run"), epochs: 1);
        o.Teacher = "resnet32";
        o.TeacherPath = TrainingTestData.TeacherPath;
        var log = new RecordedMessages();
        var profile = new StepProfile();
        var r = TrainingSession.Run(SessionKind.Distill, o, log, profile: profile);

        Assert.Same(profile, r.Profile);
        Assert.Equal(r.Steps, profile.Steps);
        var parts = profile.PerStep().ToDictionary(x => x.Part, x => x.Seconds);
        foreach (var part in new[] { StepProfile.Data, StepProfile.Teacher, StepProfile.Student, StepProfile.Loss, StepProfile.Backward, StepProfile.Optimizer })
        {
            Assert.True(parts.TryGetValue(part, out var s) && s > 0, $"{part} was not timed");
        }
        Assert.DoesNotContain(StepProfile.Ema, parts.Keys);
        // The parts are disjoint pieces of the step: together no longer than it.
        Assert.True(parts.Values.Sum() <= profile.SecondsPerStep * (1 + 1e-9), $"{parts.Values.Sum()} > {profile.SecondsPerStep}");
        Assert.Contains(log.Lines, l => l.StartsWith($"Time per step over {r.Steps} steps: ", StringComparison.Ordinal) && l.Contains("teacher ", StringComparison.Ordinal));
    }

    [Fact]
    public void Training_without_a_teacher_times_no_teacher()
    {
        var o = TrainingTestData.Tiny(Path.Combine(_dir, "train"), epochs: 1);
        var r = TrainingSession.Run(SessionKind.Train, o, new RecordedMessages());
        var parts = r.Profile!.PerStep().Select(x => x.Part).ToList();
        Assert.DoesNotContain(StepProfile.Teacher, parts);
        Assert.Contains(StepProfile.Student, parts);
        Assert.Contains(StepProfile.Backward, parts);
    }
}
