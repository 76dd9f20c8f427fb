using VkD.Tests.Distributed;
using VkD.Tests.Training;
using VkD.Training.Native;

namespace VkD.Tests.Native;

public sealed class RetainingAllocatorTests : IDisposable
{
    private const string Debian = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vkd-alloc-" + Guid.NewGuid().ToString("N"));

    private static AllocatorDecision Decide(Dictionary<string, string> env, params string[] installed) =>
        RetainingAllocator.Decide(env, installed.Contains, isLinux: true);

    [Fact]
    public void Auto_reexecs_under_installed_jemalloc_with_decay_off_and_keeps_existing_preloads()
    {
        var d = Decide(new() { ["LD_PRELOAD"] = "/opt/libfoo.so" }, Debian);
        Assert.Equal(AllocatorAction.Reexec, d.Action);
        Assert.Equal($"{Debian}:/opt/libfoo.so", d.Environment["LD_PRELOAD"]);
        Assert.Equal("dirty_decay_ms:-1,muzzy_decay_ms:-1", d.Environment["MALLOC_CONF"]);

        // A user's own jemalloc settings are theirs.
        var own = Decide(new() { ["MALLOC_CONF"] = "narenas:1" }, "/usr/lib64/libjemalloc.so.2");
        Assert.Equal(AllocatorAction.Reexec, own.Action);
        Assert.Equal("/usr/lib64/libjemalloc.so.2", own.Environment["LD_PRELOAD"]);
        Assert.False(own.Environment.ContainsKey("MALLOC_CONF"));
    }

    [Fact]
    public void The_reexecuted_process_system_choice_and_a_missing_library_go_on_without_looping()
    {
        Assert.Equal(AllocatorAction.Continue, Decide(new() { ["LD_PRELOAD"] = Debian }, Debian).Action);
        Assert.Equal(AllocatorAction.Continue, Decide(new() { ["VKD_ALLOCATOR"] = "system" }, Debian).Action);
        Assert.Equal(AllocatorAction.Continue, Decide([]).Action);
        Assert.Equal(AllocatorAction.Continue, RetainingAllocator.Decide(new Dictionary<string, string>(), _ => true, isLinux: false).Action);
    }

    [Fact]
    public void Asking_for_jemalloc_without_it_or_for_an_unknown_allocator_fails_with_the_variable_named()
    {
        var missing = Decide(new() { ["VKD_ALLOCATOR"] = "jemalloc" });
        Assert.Equal(AllocatorAction.Fail, missing.Action);
        Assert.Contains("libjemalloc2", missing.Message);
        var unknown = Decide(new() { ["VKD_ALLOCATOR"] = "tcmalloc" }, Debian);
        Assert.Equal(AllocatorAction.Fail, unknown.Action);
        Assert.Contains("VKD_ALLOCATOR='tcmalloc'", unknown.Message);
    }

    [Fact]
    public void The_vkd_executable_runs_on_jemalloc_when_installed_and_on_glibc_when_told()
    {
        // .ci/run installs Debian's libjemalloc2, so the launcher's re-exec is exercised for real here.
        Assert.True(File.Exists(Debian), $"{Debian} is missing: apt-get install libjemalloc2 (.ci/run does)");
        string[] Args(string dir) =>
        [
            "train", "--model", "resnet8", "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath, "--train-subset", "32",
            "--eval-subset", "32", "--batch-size", "32", "--epochs", "1", "--threads", "1", "--output_dir", Path.Combine(_dir, dir),
        ];
        var (code, output) = MpiJobs.Run(Args("je"), environment: new Dictionary<string, string> { ["VKD_ALLOCATOR"] = "jemalloc" });
        Assert.True(code == 0, output);
        Assert.Contains("effective batch 32, jemalloc", output);
        (code, output) = MpiJobs.Run(Args("glibc"), environment: new Dictionary<string, string> { ["VKD_ALLOCATOR"] = "system" });
        Assert.True(code == 0, output);
        Assert.Contains("effective batch 32, glibc malloc", output);
        (code, output) = MpiJobs.Run(Args("bad"), environment: new Dictionary<string, string> { ["VKD_ALLOCATOR"] = "tcmalloc" });
        Assert.Equal(2, code);
        Assert.Contains("VKD_ALLOCATOR='tcmalloc' is not one of auto, system, jemalloc", output);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
