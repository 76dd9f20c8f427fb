using VkD.Distillation.Teachers;
using VkD.Tests.Data;
using VkD.Training.Loop;
using VkD.Training.Sessions;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Tests.Training;

/// <summary>Issue 18.11: the teacher gets its own resolution of the same augmented crop, not the student's batch
/// upscaled.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class TeacherInputSizeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-teacher-size-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A feature-only teacher that records the sides of the batches it is given.</summary>
    private sealed class SizeRecordingTeacher(int inputSize) : ITeacher
    {
        public List<long> Sides { get; } = [];

        public int FeatureDim => 64;

        public int NumClasses => 0;

        public int InputSize => inputSize;

        public TeacherOutputs Forward(Tensor images)
        {
            Sides.Add(images.shape[3]);
            Assert.Equal(images.shape[2], images.shape[3]);
            return new TeacherOutputs(null, images.flatten(1).narrow(1, 0, 64).contiguous());
        }

        public void Dispose()
        {
        }
    }

    private string Photos()
    {
        var root = Path.Combine(_dir, "photos");
        foreach (var split in new[] { "train", "val" })
        {
            foreach (var cls in new[] { "cat", "dog" })
            {
                for (var i = 0; i < 4; i++)
                {
                    DataTestHelpers.WriteImage(Path.Combine(root, split, cls, $"{i}.png"), DataTestHelpers.Pattern(96, 80, i));
                }
            }
        }
        return root;
    }

    private (SizeRecordingTeacher Teacher, RecordedMessages Log) Distill(string data, int studentSize, int teacherOwn, int teacherFlag, string name)
    {
        var teacher = new SizeRecordingTeacher(teacherOwn);
        TeacherFactory.Register("size-recording-" + name, _ => teacher);
        var o = TrainingTestData.Tiny(Path.Combine(_dir, name), epochs: 1);
        o.DataSet = "auto";
        o.DataPath = data;
        o.TrainSubset = 0;
        o.EvalSubset = 0;
        o.BatchSize = 4;
        o.InputSize = studentSize;
        o.Teacher = $"size-recording-{name}:x";
        o.TeacherInputSize = teacherFlag;
        o.Gamma = 0;
        var log = new RecordedMessages();
        TrainingSession.Run(SessionKind.Distill, o, log);
        return (teacher, log);
    }

    [Fact]
    public void A_teacher_with_its_own_size_gets_the_same_crop_at_that_size_and_the_student_its_own()
    {
        var (teacher, log) = Distill(Photos(), studentSize: 16, teacherOwn: 48, teacherFlag: 0, "own");
        Assert.NotEmpty(teacher.Sides);
        Assert.All(teacher.Sides, s => Assert.Equal(48, s));
        Assert.Contains(log.Lines, l => l.Contains("fed 48x48 images (the same augmented crop; the student gets it at 16x16)", StringComparison.Ordinal));
    }

    [Fact]
    public void The_flag_overrides_the_teacher_s_own_size()
    {
        var (teacher, _) = Distill(Photos(), studentSize: 16, teacherOwn: 48, teacherFlag: 32, "flag");
        Assert.All(teacher.Sides, s => Assert.Equal(32, s));
    }

    [Fact]
    public void Small_stored_images_are_upscaled_for_the_teacher_and_the_banner_says_so()
    {
        var (teacher, log) = Distill(TrainingTestData.DataPath, studentSize: 0, teacherOwn: 40, teacherFlag: 0, "small");
        Assert.All(teacher.Sides, s => Assert.Equal(40, s));
        Assert.Contains(log.Lines, l => l.Contains("upscaled", StringComparison.Ordinal));
    }
}
