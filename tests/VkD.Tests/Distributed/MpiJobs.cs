using System.Diagnostics;
using System.Globalization;
using System.Text;
using VkD.Interop.Checkpoints;
using VkD.Models;
using VkD.Tests.Training;
using static TorchSharp.torch;

namespace VkD.Tests.Distributed;

/// <summary>Runs the real <c>vkd</c> executable as multi-process jobs through <c>vkd launch</c> (so the launcher, mpirun
/// and the ranks' auto-detection are all exercised), and the fixtures those runs share.</summary>
internal static class MpiJobs
{
    /// <summary>Why a test that needs mpirun is skipped here, or null when mpirun is installed.</summary>
    public static string? MissingMpirun { get; } = FindOnPath("mpirun") is null
        ? "mpirun is not installed (Debian/Ubuntu: apt-get install openmpi-bin; .ci/run installs it); the multi-process tests need it."
        : null;

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    /// <summary>The CLI's own build output (built with the solution).</summary>
    public static string Vkd()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VkD.slnx")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        var exe = Path.Combine(dir!.FullName, "src", "VkD.Cli", "bin", "Release", "net10.0", "linux-x64", "vkd");
        Assert.True(File.Exists(exe), $"{exe} is not built");
        return exe;
    }

    /// <summary>Starts <c>vkd</c> with <paramref name="args"/>, its output collected.</summary>
    public static VkdProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(Vkd()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        return new VkdProcess(Process.Start(psi)!);
    }

    /// <summary>Runs <c>vkd</c> to the end (a hang guard of <paramref name="limitSeconds"/>, not a timing check).</summary>
    public static (int ExitCode, string Output) Run(IEnumerable<string> args, int limitSeconds = 600, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var p = Start(args, environment);
        Assert.True(p.Process.WaitForExit(limitSeconds * 1000), $"vkd did not finish in {limitSeconds} s:\n{p.Output}");
        p.Process.WaitForExit();
        return (p.Process.ExitCode, p.Output);
    }

    /// <summary>A random, BN-free 128-d teacher (deit_nano_patch4_32 on 1x32x32, 10 classes) saved at <paramref name="path"/>:
    /// distillation through the 128 -> 128 Householder projector with no batch statistics anywhere, so a step's result
    /// does not depend on how the batch is split over ranks.</summary>
    public static string WriteTeacher(string path)
    {
        if (!File.Exists(path))
        {
            manual_seed(99);
            using var teacher = ModelRegistry.Create(TeacherModel, new ModelOptions(10, 32, 0, 1));
            CheckpointWriter.WriteStateDict(path, teacher.state_dict());
        }
        return path;
    }

    public const string TeacherModel = "deit_nano_patch4_32";

    public const string StudentModel = "deit_nano_distilled_patch4_32";

    /// <summary>The tiny distillation's flags (without batch size and output folder). Momentum SGD rather than AdamW:
    /// a gradient that is zero in exact arithmetic (attention's key bias: softmax ignores a shift shared by all keys) is
    /// float noise of ~1e-10 in any run, which AdamW's division by sqrt(v) turns into steps of +-lr, so two correct runs
    /// that sum in different orders drift apart there by ~lr; SGD keeps the comparison about the synchronisation.</summary>
    public static List<string> DistillFlags(string teacherPath, int trainImages, int evalImages, int epochs) =>
    [
        "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath, "--input-size", "32",
        "--teacher", TeacherModel, "--teacher-path", teacherPath, "--student-model", StudentModel,
        "--train-subset", trainImages.ToString(CultureInfo.InvariantCulture), "--eval-subset", evalImages.ToString(CultureInfo.InvariantCulture),
        "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--num-workers", "0", "--threads", "1", "--seed", "5",
        "--student-ema", "--student-ema-decay", "0.9", "--mixup", "0.8", "--cutmix", "1.0", "--opt", "momentum", "--lr", "0.05",
    ];

    /// <summary>Largest absolute difference between the tensors of one entry of two checkpoints (same keys required),
    /// and the key where it is.</summary>
    public static (double Max, string Key) MaxDifference(string a, string b, string entry)
    {
        using var ca = CheckpointReader.Read(a);
        using var cb = CheckpointReader.Read(b);
        var da = ca.StateDictEntry(entry);
        var db = cb.StateDictEntry(entry);
        Assert.Equal(da.Keys.Order(StringComparer.Ordinal), db.Keys.Order(StringComparer.Ordinal));
        (double Max, string Key) worst = (0, "");
        foreach (var (k, t) in da)
        {
            if (!t.is_floating_point())
            {
                Assert.True(t.eq(db[k]).all().item<bool>(), $"{entry}.{k} differs");
                continue;
            }
            var d = (double)(t - db[k]).abs().max().item<float>();
            if (d > worst.Max)
            {
                worst = (d, k);
            }
        }
        return worst;
    }
}

/// <summary>A running <c>vkd</c> with its stdout and stderr collected as they come.</summary>
internal sealed class VkdProcess : IDisposable
{
    private readonly StringBuilder _output = new();

    public VkdProcess(Process process)
    {
        Process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The pid of rank <paramref name="rank"/> among the descendants of this process (from /proc), or null.</summary>
    public int? RankPid(int rank)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || !IsDescendant(pid))
            {
                continue;
            }
            try
            {
                var environ = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                if (environ.Contains($"OMPI_COMM_WORLD_RANK={rank}"))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended meanwhile.
            }
        }
        return null;
    }

    private bool IsDescendant(int pid)
    {
        for (var p = pid; p > 1;)
        {
            if (p == Process.Id)
            {
                return true;
            }
            try
            {
                var stat = File.ReadAllText($"/proc/{p}/stat");
                // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
                p = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                return false;
            }
        }
        return false;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
        }
        Process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
