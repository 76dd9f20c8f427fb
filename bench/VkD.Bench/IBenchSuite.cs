namespace VkD.Bench;

/// <summary>One benchmark suite; <see cref="Program"/> finds every implementation by reflection, so adding a suite
/// is adding a file.</summary>
public interface IBenchSuite
{
    /// <summary>Name used on the command line: <c>dotnet run --project bench/VkD.Bench -c Release -- NAME</c>.</summary>
    string Name { get; }

    /// <summary>One line for the suite list.</summary>
    string Description { get; }

    /// <summary>Runs the suite with the remaining arguments and returns the process exit code.</summary>
    int Run(string[] args);
}
