namespace VkD.Bench;

/// <summary>Benchmarks against PyTorch; each suite prints the ratios that go into docs/benchmarks.md.</summary>
public static class Program
{
    /// <summary>Runs the suite named by the first argument, or lists the suites.</summary>
    public static int Main(string[] args)
    {
        var suites = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(IBenchSuite).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (IBenchSuite)Activator.CreateInstance(t)!)
            .OrderBy(s => s.Name, StringComparer.Ordinal)
            .ToList();
        var suite = args.Length > 0 ? suites.FirstOrDefault(s => s.Name == args[0]) : null;
        if (suite is null)
        {
            Console.Error.WriteLine("usage: dotnet run --project bench/VkD.Bench -c Release -- <suite> [options]");
            foreach (var s in suites)
            {
                Console.Error.WriteLine($"  {s.Name,-16} {s.Description}");
            }
            return args.Length == 0 ? 0 : 2;
        }
        return suite.Run(args[1..]);
    }
}
