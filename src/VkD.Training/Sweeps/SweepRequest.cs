using System.Globalization;
using VkD.Training.Options;
using VkD.Training.Sessions;

namespace VkD.Training.Sweeps;

/// <summary>
/// One command run for several seeds: the resolved options of the command (its output folder is the sweep's root,
/// each seed runs in a sub-folder of it), the seeds, and how many seeds may run at once.
/// </summary>
public sealed class SweepRequest
{
    /// <summary>The command each seed runs (<c>train</c> or <c>distill</c>).</summary>
    public required SessionKind Kind { get; init; }

    /// <summary>The command's resolved options; <see cref="TrainingOptions.OutputDir"/> is the sweep's root folder and
    /// <see cref="TrainingOptions.Seed"/> is replaced by each of <see cref="Seeds"/>.</summary>
    public required TrainingOptions Options { get; init; }

    /// <summary>Seeds to run, in order (distinct).</summary>
    public required IReadOnlyList<int> Seeds { get; init; }

    /// <summary>Seeds running at the same time (1 = one after another).</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>The sweep's root folder.</summary>
    public string Root => Options.OutputDir;

    /// <summary>Parses <c>--seeds</c>: comma-separated non-negative integers, each at most once (<c>0,1,2</c>).</summary>
    /// <exception cref="ArgumentException">Empty, not an integer, negative, or a seed given twice.</exception>
    public static IReadOnlyList<int> ParseSeeds(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("--seeds is required: a comma-separated list of seeds such as --seeds 0,1,2.");
        }
        var seeds = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var seed))
            {
                throw new ArgumentException($"--seeds {text}: '{part}' is not a non-negative integer; write the seeds as 0,1,2.");
            }
            if (seeds.Contains(seed))
            {
                throw new ArgumentException($"--seeds {text}: seed {seed} is given twice; each seed runs once (its folder is seed{seed}).");
            }
            seeds.Add(seed);
        }
        return seeds;
    }

    /// <summary>Checks the request before anything runs or is written.</summary>
    /// <exception cref="ArgumentException">No seeds, a repeated or negative seed, no output folder, a <c>--resume</c>
    /// checkpoint, a parallelism below 1, or options the command itself refuses.</exception>
    public void Validate()
    {
        if (Seeds.Count == 0)
        {
            throw new ArgumentException("--seeds is required: a comma-separated list of seeds such as --seeds 0,1,2.");
        }
        var repeated = Seeds.GroupBy(s => s).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
        {
            throw new ArgumentException($"--seeds: seed {repeated.Key} is given twice; each seed runs once (its folder is seed{repeated.Key}).");
        }
        if (Seeds.Any(s => s < 0))
        {
            throw new ArgumentException($"--seeds: seed {Seeds.First(s => s < 0)} is negative; seeds are non-negative integers.");
        }
        if (Parallel < 1)
        {
            throw new ArgumentException($"--parallel {Parallel}: run at least one seed at a time (1 = one after another).");
        }
        if (string.IsNullOrEmpty(Options.OutputDir))
        {
            throw new ArgumentException("vkd sweep needs --output-dir DIR in the command's flags (or its config file): seed K runs in DIR/seedK and the table is written to DIR.");
        }
        if (!string.IsNullOrEmpty(Options.Resume))
        {
            throw new ArgumentException($"vkd sweep resumes every seed from its own folder (DIR/seedK/latest.pth.tar); drop --resume {Options.Resume}.");
        }
        TrainingSession.Validate(Kind, Options);
    }

    /// <summary>The options seed <paramref name="seed"/> runs with: this request's, with that seed, its own sub-folder,
    /// and resuming from that folder's latest checkpoint when there is one.</summary>
    public TrainingOptions ForSeed(int seed)
    {
        var o = Options.Clone();
        o.Seed = seed;
        o.OutputDir = Path.Combine(Root, SweepFiles.SeedFolder(seed));
        o.Resume = "auto";
        return o;
    }
}
