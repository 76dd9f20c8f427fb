namespace VkD.Bench;

/// <summary>Benchmarks against PyTorch; each suite writes its ratios for docs/benchmarks.md.</summary>
public static class Program
{
    /// <summary>Runs the suite named by the first argument.</summary>
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: VkD.Bench <suite> [options]");
        return args.Length == 0 ? 2 : 0;
    }
}
