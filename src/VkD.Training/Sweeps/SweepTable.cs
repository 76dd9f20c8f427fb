using System.Text.Json;
using VkD.Training.Sessions;

namespace VkD.Training.Sweeps;

/// <summary>
/// A sweep's result: each seed's best and last top-1/top-5, their mean and sample std over seeds, the exact resolved
/// configuration (the first seed's config.json without its seed, output folder and resume setting, which are the
/// only options that differ between seeds) and the environment.
/// </summary>
public sealed class SweepTable
{
    /// <summary>Options that differ between a sweep's seeds and so are left out of <see cref="Config"/>.</summary>
    public static readonly IReadOnlyList<string> PerSeedOptions = ["seed", "output-dir", "resume"];

    private SweepTable(SessionKind kind, IReadOnlyList<SeedOutcome> seeds, IReadOnlyDictionary<string, JsonElement> config, RunEnvironment environment)
    {
        Kind = kind;
        Seeds = seeds;
        Config = config;
        Environment = environment;
        BestAcc1 = SeedSpread.Of(seeds.Select(s => s.BestAcc1).ToArray());
        BestAcc5 = SeedSpread.Of(seeds.Select(s => s.BestAcc5).ToArray());
        LastAcc1 = SeedSpread.Of(seeds.Select(s => s.LastAcc1).ToArray());
        LastAcc5 = SeedSpread.Of(seeds.Select(s => s.LastAcc5).ToArray());
    }

    /// <summary>The command every seed ran.</summary>
    public SessionKind Kind { get; }

    /// <summary>Per-seed outcomes, in the order of <c>--seeds</c>.</summary>
    public IReadOnlyList<SeedOutcome> Seeds { get; }

    /// <summary>The resolved options every seed shared (flag name → value as in config.json).</summary>
    public IReadOnlyDictionary<string, JsonElement> Config { get; }

    /// <summary>Software and machine.</summary>
    public RunEnvironment Environment { get; }

    /// <summary>Best-epoch top-1 over seeds.</summary>
    public SeedSpread BestAcc1 { get; }

    /// <summary>Top-5 of the best (by top-1) epoch over seeds.</summary>
    public SeedSpread BestAcc5 { get; }

    /// <summary>Last-epoch top-1 over seeds.</summary>
    public SeedSpread LastAcc1 { get; }

    /// <summary>Last-epoch top-5 over seeds.</summary>
    public SeedSpread LastAcc5 { get; }

    /// <summary>Builds the table from the seeds' outcomes and the first seed's config.json.</summary>
    /// <exception cref="ArgumentException">No outcomes.</exception>
    /// <exception cref="InvalidDataException">The config file is not a JSON object.</exception>
    public static SweepTable Create(SessionKind kind, IReadOnlyList<SeedOutcome> seeds, string firstSeedConfigJson, RunEnvironment environment)
    {
        if (seeds.Count == 0)
        {
            throw new ArgumentException("A sweep table needs at least one seed.", nameof(seeds));
        }
        return new SweepTable(kind, seeds, SharedConfig(firstSeedConfigJson), environment);
    }

    /// <summary>Reads a run's config.json without the options that differ between seeds.</summary>
    /// <exception cref="InvalidDataException">Not valid JSON, or not one object.</exception>
    public static IReadOnlyDictionary<string, JsonElement> SharedConfig(string configJsonPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(configJsonPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{configJsonPath} must hold one JSON object of option → value.");
            }
            var result = new SortedDictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject().Where(p => !PerSeedOptions.Contains(p.Name)))
            {
                result[p.Name] = p.Value.Clone();
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{configJsonPath} is not valid JSON: {e.Message}", e);
        }
    }
}
