using System.Text.Json;
using VkD.Training.Logging;
using VkD.Training.Loop;
using VkD.Training.Options;
using VkD.Training.Sessions;
using VkD.Training.Sweeps;

namespace VkD.Tests.Training.Sweeps;

[Collection(EndToEndCollection.Name)]
public sealed class SweepTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-sweep-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SweepRequest Request(string root, params int[] seeds) => new()
    {
        Kind = SessionKind.Train,
        Options = TrainingTestData.Tiny(root, epochs: 2),
        Seeds = seeds,
    };

    private static JsonElement ReadJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void Spread_is_the_mean_and_the_sample_standard_deviation()
    {
        var s = SeedSpread.Of([1.0, 2.0, 4.0]);
        Assert.Equal(7.0 / 3.0, s.Mean, 12);
        // numpy.std([1, 2, 4], ddof=1) = sqrt(((1-7/3)^2 + (2-7/3)^2 + (4-7/3)^2) / 2) = sqrt(7/3)
        Assert.Equal(Math.Sqrt(7.0 / 3.0), s.Std!.Value, 12);
        Assert.Null(SeedSpread.Of([5.0]).Std);
        Assert.Throws<ArgumentException>(() => SeedSpread.Of([]));
    }

    [Fact]
    public void Two_seeds_write_a_table_with_the_mean_and_sample_std_of_their_summaries()
    {
        var root = Path.Combine(_dir, "sweep");
        var log = new List<string>();
        var result = Sweep.Run(Request(root, 0, 1), new InProcessSeedRunner(), log.Add);

        Assert.Empty(result.Failures);
        Assert.Equal([0, 1], result.Started);
        Assert.NotNull(result.Table);
        Assert.Contains(log, l => l.Contains("seed 1: finished", StringComparison.Ordinal));
        var sweep = ReadJson(Path.Combine(root, SweepFiles.Json));
        Assert.Equal("train", sweep.GetProperty("command").GetString());
        var seeds = new[] { 0, 1 };
        foreach (var (metric, evaluation, key) in new[] { ("best_acc1", "best", "acc1"), ("last_acc1", "final", "acc1"), ("best_acc5", "best", "acc5"), ("last_acc5", "final", "acc5") })
        {
            // Recomputed here from each seed's own summary.json, independently of the sweep's arithmetic.
            var values = seeds.Select(s => ReadJson(Path.Combine(root, $"seed{s}", RunFiles.SummaryJson)).GetProperty(evaluation).GetProperty(key).GetDouble()).ToArray();
            var mean = (values[0] + values[1]) / 2;
            var std = Math.Abs(values[0] - values[1]) / Math.Sqrt(2); // n - 1 = 1
            var m = sweep.GetProperty(metric);
            Assert.Equal(mean, m.GetProperty("mean").GetDouble(), 9);
            Assert.Equal(std, m.GetProperty("std").GetDouble(), 9);
            Assert.Equal(values, m.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));
        }
        // The seeds really differ (a sweep that ran one seed twice would show std 0 everywhere).
        Assert.NotEqual(0.0, sweep.GetProperty("last_acc1").GetProperty("std").GetDouble() + sweep.GetProperty("last_acc5").GetProperty("std").GetDouble());

        var config = sweep.GetProperty("config");
        Assert.False(config.TryGetProperty("seed", out _));
        Assert.False(config.TryGetProperty("output-dir", out _));
        Assert.Equal(2, config.GetProperty("epochs").GetInt32());
        Assert.Equal(28, config.GetProperty("input-size").GetInt32()); // as resolved by the run, not 0
        var software = sweep.GetProperty("software");
        Assert.StartsWith("0.107", software.GetProperty("torchsharp").GetString());
        Assert.Equal(1, software.GetProperty("threads_per_run").GetInt32());
        foreach (var key in new[] { "vkd_net", "libtorch", "dotnet", "os", "cpu" })
        {
            Assert.False(string.IsNullOrWhiteSpace(software.GetProperty(key).GetString()), key);
        }

        var md = File.ReadAllText(Path.Combine(root, SweepFiles.Markdown));
        var t = result.Table!;
        Assert.Contains(FormattableString.Invariant($"| last top-1 (%) | {t.LastAcc1.Mean:F2} ± {t.LastAcc1.Std:F2} | {t.LastAcc1.Values[0]:F2} | {t.LastAcc1.Values[1]:F2} |"), md);
        Assert.Contains("sample standard deviation", md);
        Assert.False(File.Exists(Path.Combine(root, OutputFolderLock.FileName)));
    }

    [Fact]
    public void A_rerun_skips_finished_seeds_and_resumes_an_interrupted_one_to_the_same_table()
    {
        var straight = Path.Combine(_dir, "straight");
        Sweep.Run(Request(straight, 0, 1), new InProcessSeedRunner());

        var root = Path.Combine(_dir, "resumed");
        Sweep.Run(Request(root, 0), new InProcessSeedRunner());
        var seed0Summary = File.ReadAllText(Path.Combine(root, "seed0", RunFiles.SummaryJson));
        // Seed 1 dies like a crash after 8 of its 12 steps: its latest checkpoint is the end of epoch 1.
        var request = Request(root, 0, 1);
        Assert.False(TrainingSession.Run(SessionKind.Train, request.ForSeed(1), stopAfterSteps: 8).Completed);
        Assert.False(File.Exists(Path.Combine(root, "seed1", RunFiles.SummaryJson)));

        var messages = new RecordedMessages();
        var result = Sweep.Run(request, new InProcessSeedRunner((_, body) => body(messages)));
        Assert.Equal([0], result.Skipped);
        Assert.Equal([1], result.Resumed);
        Assert.Equal([1], result.Started);
        Assert.Contains(messages.Lines, l => l.StartsWith("Resumed from", StringComparison.Ordinal));
        Assert.Equal(seed0Summary, File.ReadAllText(Path.Combine(root, "seed0", RunFiles.SummaryJson)));

        var a = ReadJson(Path.Combine(straight, SweepFiles.Json));
        var b = ReadJson(Path.Combine(root, SweepFiles.Json));
        foreach (var metric in new[] { "best_acc1", "last_acc1", "best_acc5", "last_acc5" })
        {
            Assert.Equal(a.GetProperty(metric).GetProperty("values").GetRawText(), b.GetProperty(metric).GetProperty("values").GetRawText());
        }
        Assert.Equal(a.GetProperty("config").GetRawText(), b.GetProperty("config").GetRawText());

        // Everything finished: one more run skips both and rewrites the same table.
        var again = Sweep.Run(request, new InProcessSeedRunner());
        Assert.Equal([0, 1], again.Skipped);
        Assert.Empty(again.Started);
        Assert.Equal(b.GetProperty("last_acc1").GetRawText(), ReadJson(Path.Combine(root, SweepFiles.Json)).GetProperty("last_acc1").GetRawText());
    }

    [Fact]
    public void A_seed_folder_run_with_other_options_is_refused_instead_of_mixed_into_the_table()
    {
        var root = Path.Combine(_dir, "mixed");
        Sweep.Run(Request(root, 0), new InProcessSeedRunner());
        var changed = Request(root, 0, 1);
        changed.Options.Lr = 1e-3;
        var e = Assert.Throws<ArgumentException>(() => Sweep.Run(changed, new InProcessSeedRunner()));
        Assert.Contains("seed0", e.Message);
        Assert.Contains("lr 0.003 there, 0.001 now", e.Message);
        Assert.False(Directory.Exists(Path.Combine(root, "seed1")), "nothing may run after the refusal");
    }

    [Fact]
    public void Bad_requests_fail_before_anything_is_written()
    {
        var root = Path.Combine(_dir, "bad");
        void Refused(SweepRequest request, string message)
        {
            var e = Assert.Throws<ArgumentException>(() => Sweep.Run(request, new InProcessSeedRunner()));
            Assert.Contains(message, e.Message);
            Assert.False(Directory.Exists(root), "nothing may be written before the error");
        }
        Refused(Request(root), "--seeds is required");
        Refused(Request(root, 0, 1, 0), "seed 0 is given twice");
        Refused(Request(root, -1), "seed -1 is negative");
        Refused(new SweepRequest { Kind = SessionKind.Train, Options = TrainingTestData.Tiny(root), Seeds = [0], Parallel = 0 }, "--parallel 0");
        Refused(Request("", 0), "needs --output-dir");
        var resume = Request(root, 0);
        resume.Options.Resume = "auto";
        Refused(resume, "drop --resume auto");
        var noModel = Request(root, 0);
        noModel.Options.StudentModel = "deit_gigantic";
        Refused(noModel, "deit_gigantic");

        Assert.Equal([0, 1, 2], SweepRequest.ParseSeeds("0,1,2"));
        Assert.Equal([4], SweepRequest.ParseSeeds(" 4 "));
        Assert.Contains("'x' is not a non-negative integer", Assert.Throws<ArgumentException>(() => SweepRequest.ParseSeeds("0,x")).Message);
        Assert.Contains("seed 2 is given twice", Assert.Throws<ArgumentException>(() => SweepRequest.ParseSeeds("2,2")).Message);
        Assert.Contains("--seeds is required", Assert.Throws<ArgumentException>(() => SweepRequest.ParseSeeds(null)).Message);
    }
}
