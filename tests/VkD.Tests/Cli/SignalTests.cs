using System.Diagnostics;
using System.Globalization;
using VkD.Interop.Checkpoints;
using VkD.Tests.Training;
using VkD.Training.Logging;

namespace VkD.Tests.Cli;

/// <summary>SIGTERM and SIGINT stop a real <c>vkd train</c> process at a step boundary with its position saved.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SignalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-signal-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Kill(int pid, int signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        return kill.ExitCode;
    }

    private static string Vkd() => CliRunner.Executable();

    [Theory]
    [InlineData(15, 143)]
    [InlineData(2, 130)]
    public async Task A_signal_stops_training_at_a_step_boundary_saves_and_exits_non_zero(int signal, int expectedExit)
    {
        var outDir = Path.Combine(_dir, "run");
        var psi = new ProcessStartInfo(Vkd())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "train", "--model", "resnet8", "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath,
                     "--train-subset", "192", "--eval-subset", "96", "--batch-size", "32", "--epochs", "50", "--threads", "1",
                     "--num-workers", "1", "--mixup", "0", "--cutmix", "0", "--output-dir", outDir })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var log = Path.Combine(outDir, RunFiles.IterationsCsv);
        var watch = Stopwatch.StartNew();
        while ((!File.Exists(log) || File.ReadAllLines(log).Length < 3) && !p.HasExited && watch.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(50);
        }
        if (p.HasExited)
        {
            Assert.Fail($"vkd exited early: {await stdout}{await stderr}");
        }
        Assert.Equal(0, Kill(p.Id, signal));
        Assert.True(p.WaitForExit(120_000), "vkd did not stop after the signal");
        Assert.Equal(expectedExit, p.ExitCode);
        Assert.Contains("--resume auto", await stderr + await stdout);

        using (var ckpt = CheckpointReader.Read(Path.Combine(outDir, RunFiles.LatestCheckpoint)))
        {
            var position = Convert.ToInt64(ckpt.Entries["next_epoch"], CultureInfo.InvariantCulture) * 6
                + Convert.ToInt64(ckpt.Entries["next_batch"], CultureInfo.InvariantCulture);
            // Every logged step is accounted for by the saved position: nothing done is lost.
            Assert.Equal(File.ReadAllLines(log).Length - 1, position);
        }
        Assert.False(File.Exists(Path.Combine(outDir, OutputFolderLock.FileName)));
    }
}
