using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using VkD.Cli;
using VkD.Tests.Training;
using VkD.Training.Logging;
using VkD.Training.Sweeps;

namespace VkD.Tests.Cli;

[Collection(EndToEndCollection.Name)]
public sealed class SweepCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-sweep-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output) Run(params string[] args) => VkD.Tests.Cli.CliRunner.Run(args);

    private static string[] TinyTrain(string outDir, int epochs = 1) =>
    [
        "train", "--model", "resnet8", "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath, "--train-subset", "128",
        "--eval-subset", "64", "--batch-size", "32", "--epochs", epochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--mixup", "0", "--cutmix", "0", "--threads", "1",
        "--num-workers", "1", "--output_dir", outDir,
    ];

    private static string[] PerSeed(string root, string metric)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, SweepFiles.Json)));
        return doc.RootElement.GetProperty(metric).GetProperty("values").EnumerateArray().Select(v => v.GetRawText()).ToArray();
    }

    [Fact]
    public void Sweep_prints_and_writes_the_table_and_a_rerun_skips_the_finished_seeds()
    {
        var root = Path.Combine(_dir, "seq");
        var (code, output) = Run(["sweep", "--seeds", "0,1", "--", .. TinyTrain(root)]);
        Assert.True(code == 0, output);
        Assert.Contains("# vkd sweep: train, 2 seeds (0, 1)", output);
        Assert.Contains("| best top-1 (%) |", output);
        Assert.Contains("| seed 0 | seed 1 |", output);
        Assert.Contains(SweepFiles.Markdown, output);
        Assert.True(File.Exists(Path.Combine(root, "seed0", RunFiles.SummaryJson)));
        Assert.True(File.Exists(Path.Combine(root, "seed1", RunFiles.SummaryJson)));
        var summaries = new[] { 0, 1 }.Select(s => File.ReadAllText(Path.Combine(root, $"seed{s}", RunFiles.SummaryJson))).ToArray();
        var table = File.ReadAllText(Path.Combine(root, SweepFiles.Markdown));

        (code, output) = Run(["sweep", "--seeds", "0,1", "--", .. TinyTrain(root)]);
        Assert.True(code == 0, output);
        Assert.Contains("seed 0: finished earlier", output);
        Assert.Contains("seed 1: finished earlier", output);
        Assert.DoesNotContain("starting", output);
        Assert.Equal(summaries, new[] { 0, 1 }.Select(s => File.ReadAllText(Path.Combine(root, $"seed{s}", RunFiles.SummaryJson))));
        Assert.Equal(table.Split("## Software")[0], File.ReadAllText(Path.Combine(root, SweepFiles.Markdown)).Split("## Software")[0]);
    }

    [Fact]
    public void Bad_sweep_input_is_a_usage_error_with_a_clear_message()
    {
        var root = Path.Combine(_dir, "bad");
        void Refused(string[] args, string message)
        {
            var (code, output) = Run(args);
            Assert.Equal(Program.UsageError, code);
            Assert.Contains(message, output);
            Assert.False(Directory.Exists(root), "nothing may be written before the error");
        }
        Refused(["sweep", "--", .. TinyTrain(root)], "--seeds is required");
        Refused(["sweep", "--seeds", "", "--", .. TinyTrain(root)], "--seeds is required");
        Refused(["sweep", "--seeds", "0,1,0", "--", .. TinyTrain(root)], "seed 0 is given twice");
        Refused(["sweep", "--seeds", "0,one", "--", .. TinyTrain(root)], "'one' is not a non-negative integer");
        Refused(["sweep", "--seeds", "0,1"], "needs the command to repeat after --");
        Refused(["sweep", "--seeds", "0,1", "--", "eval", "--student-ckpt", "x.pth"], "repeats train or distill, not 'eval'");
        Refused(["sweep", "--seeds", "0,1", "--", "quickstart"], "not 'quickstart'");
        Refused(["sweep", "--seeds", "0,1", "--parallel", "0", "--", .. TinyTrain(root)], "--parallel 0");
        Refused(["sweep", "--seeds", "0,1", "--", .. TinyTrain(root)[..^2]], "needs --output-dir");
        Refused(["sweep", "--seeds", "0,1", "--", .. TinyTrain(root), "--resume", "auto"], "drop --resume");
        Refused(["sweep", "--seeds", "0,1", "--", .. TinyTrain(root), "--no-such-flag"], "no-such-flag");
        Refused(["sweep", "--seeds", "0,1", "--", .. TinyTrain(root), "--batch-size", "-3"], "--batch-size must be positive");
    }

    private static string Vkd() => CliRunner.Executable();

    [Fact]
    public async Task Parallel_seeds_run_as_child_processes_and_give_the_same_table_as_in_process()
    {
        var inProcess = Path.Combine(_dir, "in-process");
        var (code, output) = Run(["sweep", "--seeds", "2,5", "--", .. TinyTrain(inProcess)]);
        Assert.True(code == 0, output);

        var parallel = Path.Combine(_dir, "parallel");
        var psi = new ProcessStartInfo(Vkd()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["sweep", "--seeds", "2,5", "--parallel", "2", "--", .. TinyTrain(parallel)])
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(300_000), "vkd sweep did not finish");
        var text = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, text);
        foreach (var seed in new[] { 2, 5 })
        {
            var log = File.ReadAllText(Path.Combine(parallel, SweepFiles.SeedLog(seed)));
            Assert.Contains("--config", log);
            Assert.Contains("Finished 1 epochs", log);
            Assert.True(File.Exists(Path.Combine(parallel, SweepFiles.SeedOptions(seed))));
        }
        foreach (var metric in new[] { "best_acc1", "last_acc1", "best_acc5", "last_acc5" })
        {
            Assert.Equal(PerSeed(inProcess, metric), PerSeed(parallel, metric));
        }
        Assert.Contains("2 seed(s) at a time", File.ReadAllText(Path.Combine(parallel, SweepFiles.Markdown)));
    }

    private static Process StartVkd(params string[] args)
    {
        var psi = new ProcessStartInfo(Vkd()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        return Process.Start(psi)!;
    }

    private static async Task WaitUntil(Process p, Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition() && !p.HasExited && watch.Elapsed < TimeSpan.FromSeconds(180))
        {
            await Task.Delay(50);
        }
        Assert.True(condition(), $"{what} (vkd exited: {p.HasExited})");
    }

    private static void Terminate(Process p)
    {
        using var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    [Fact]
    public async Task SIGTERM_stops_every_parallel_seed_with_its_position_saved_and_the_next_sweep_resumes_them()
    {
        var root = Path.Combine(_dir, "signal");
        // 50 epochs: far longer than the test waits, so the signal always lands mid-run.
        string[] args = ["sweep", "--seeds", "0,1", "--parallel", "2", "--", .. TinyTrain(root, epochs: 50)];
        bool Stepped(int seed) =>
            File.Exists(Path.Combine(root, $"seed{seed}", RunFiles.IterationsCsv)) && File.ReadAllLines(Path.Combine(root, $"seed{seed}", RunFiles.IterationsCsv)).Length >= 3;

        using (var p = StartVkd(args))
        {
            var output = p.StandardOutput.ReadToEndAsync();
            var errors = p.StandardError.ReadToEndAsync();
            await WaitUntil(p, () => Stepped(0) && Stepped(1), "both seeds should be training");
            Terminate(p);
            Assert.True(p.WaitForExit(120_000), "vkd sweep did not stop after SIGTERM");
            var text = await output + await errors;
            Assert.True(p.ExitCode == 143, text);
            Assert.Contains("no table was written", text);
        }
        Assert.False(File.Exists(Path.Combine(root, SweepFiles.Json)));
        foreach (var seed in new[] { 0, 1 })
        {
            Assert.True(File.Exists(Path.Combine(root, $"seed{seed}", RunFiles.LatestCheckpoint)), $"seed {seed} saved no position");
            Assert.False(File.Exists(Path.Combine(root, $"seed{seed}", RunFiles.SummaryJson)));
            Assert.False(File.Exists(Path.Combine(root, $"seed{seed}", OutputFolderLock.FileName)), $"seed {seed} left its lock");
        }
        Assert.False(File.Exists(Path.Combine(root, OutputFolderLock.FileName)));

        using (var p = StartVkd(args))
        {
            var output = p.StandardOutput.ReadToEndAsync();
            var errors = p.StandardError.ReadToEndAsync();
            bool Resumed(int seed) => File.Exists(Path.Combine(root, SweepFiles.SeedLog(seed)))
                && File.ReadAllText(Path.Combine(root, SweepFiles.SeedLog(seed))).Contains("Resumed from", StringComparison.Ordinal);
            await WaitUntil(p, () => Resumed(0) && Resumed(1), "both seeds should resume from their checkpoints");
            Terminate(p);
            Assert.True(p.WaitForExit(120_000), "vkd sweep did not stop after SIGTERM");
            var text = await output + await errors;
            Assert.Contains("seed 0: resuming from seed0/latest.pth.tar", text);
            Assert.Contains("seed 1: resuming from seed1/latest.pth.tar", text);
            Assert.True(p.ExitCode == 143, text);
        }
    }
}
