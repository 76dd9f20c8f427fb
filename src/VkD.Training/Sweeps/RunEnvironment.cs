using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace VkD.Training.Sweeps;

/// <summary>The software and machine a sweep's table was made with, so a reader can tell whether their numbers should match.</summary>
/// <param name="VkdNet">VkD.NET version (with the commit when the build recorded it).</param>
/// <param name="TorchSharp">TorchSharp version.</param>
/// <param name="Libtorch">libtorch version, as the loaded native library reports it.</param>
/// <param name="DotNet">.NET runtime.</param>
/// <param name="Os">Operating system.</param>
/// <param name="Cpu">CPU model (from /proc/cpuinfo; the architecture where that is not available).</param>
/// <param name="LogicalCores">Logical cores the process may use.</param>
/// <param name="ThreadsPerRun">Intra-op threads of each seed's run (<c>--threads</c>, or libtorch's default for 0).</param>
/// <param name="Parallel">Seeds run at the same time.</param>
public sealed record RunEnvironment(string VkdNet, string TorchSharp, string Libtorch, string DotNet, string Os, string Cpu,
    int LogicalCores, int ThreadsPerRun, int Parallel)
{
    /// <summary>This process's environment, for runs of <paramref name="threads"/> intra-op threads (0 = libtorch's
    /// default) with <paramref name="parallel"/> seeds at a time.</summary>
    public static RunEnvironment Capture(int threads, int parallel) => new(
        InformationalVersion(typeof(RunEnvironment).Assembly),
        InformationalVersion(typeof(torch).Assembly),
        torch.__version__,
        RuntimeInformation.FrameworkDescription,
        RuntimeInformation.OSDescription,
        CpuModel(),
        Environment.ProcessorCount,
        threads > 0 ? threads : torch.get_num_threads(),
        parallel);

    private static string InformationalVersion(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString() ?? "unknown";

    private static string CpuModel()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (File.Exists(cpuInfo))
        {
            foreach (var line in File.ReadLines(cpuInfo))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is var colon and > 0)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
