using System.Text.Json;
using VkD.Training.Options;
using VkD.Training.Sessions;
using VkD.Training.Teachers;

namespace VkD.Tests.Training;

/// <summary><c>--teacher-fold-bn</c> and <c>--teacher-channels-last</c> (issue 17): on by default for a zoo CNN
/// teacher, printed in the banner, part of the teacher cache's key, and validated.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class TeacherForwardOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-teacher-forward-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private RecordedMessages Run(string name, string fold, string channelsLast, string cache)
    {
        var o = TrainingTestData.Tiny(Path.Combine(_dir, name), epochs: 1);
        o.Teacher = "resnet32";
        o.TeacherPath = TrainingTestData.TeacherPath;
        o.TeacherFoldBn = fold;
        o.TeacherChannelsLast = channelsLast;
        o.TeacherCache = cache;
        o.TeacherCacheDraws = 1;
        var messages = new RecordedMessages();
        Assert.True(TrainingSession.Run(SessionKind.Distill, o, messages).Completed);
        return messages;
    }

    private static Dictionary<string, string> Key(string folder) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(folder, TeacherOutputCache.KeyFile)))!;

    [Fact]
    public void A_zoo_cnn_teacher_is_folded_and_channels_last_by_default_and_the_cache_keys_it()
    {
        var cache = Path.Combine(_dir, "cache");
        var folded = Run("default", new TrainingOptions().TeacherFoldBn, new TrainingOptions().TeacherChannelsLast, cache);
        var line = Assert.Single(folded.Lines, l => l.StartsWith("teacher resnet32", StringComparison.Ordinal));
        Assert.Contains("TorchSharp, BatchNorm folded into the convs, channels-last)", line);
        var first = Assert.Single(Directory.GetDirectories(cache));
        Assert.Equal("true", Key(first)["teacher_bn_folded"]);
        Assert.Equal("true", Key(first)["teacher_channels_last"]);

        // The unfolded teacher's records are kept apart: its key has neither entry, so it opens another folder.
        var plain = Run("plain", "off", "off", cache);
        var plainLine = Assert.Single(plain.Lines, l => l.StartsWith("teacher resnet32", StringComparison.Ordinal));
        Assert.Contains("TorchSharp)", plainLine);
        Assert.DoesNotContain("folded", plainLine);
        var second = Assert.Single(Directory.GetDirectories(cache), d => d != first);
        Assert.False(Key(second).ContainsKey("teacher_bn_folded"));
        Assert.False(Key(second).ContainsKey("teacher_channels_last"));
        Assert.Contains(plain.Lines, l => l.StartsWith("teacher cache ", StringComparison.Ordinal) && l.Contains("0 of 192 recorded", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--teacher-fold-bn", "yes")]
    [InlineData("--teacher-channels-last", "")]
    public void An_unknown_switch_value_names_the_flag_and_the_choices(string flag, string value)
    {
        var o = TrainingTestData.Tiny(_dir, epochs: 1);
        o.Teacher = "resnet32";
        o.TeacherPath = TrainingTestData.TeacherPath;
        if (flag == "--teacher-fold-bn")
        {
            o.TeacherFoldBn = value;
        }
        else
        {
            o.TeacherChannelsLast = value;
        }
        var ex = Assert.Throws<ArgumentException>(() => TrainingSession.Run(SessionKind.Distill, o));
        Assert.Contains($"{flag} {value} is unknown; use on or off", ex.Message);
    }
}
