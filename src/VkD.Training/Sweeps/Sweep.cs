using System.Text.Json;
using VkD.Training.Logging;
using VkD.Training.Options;

namespace VkD.Training.Sweeps;

/// <summary>
/// Runs one command for several seeds, each in its own sub-folder <c>seed{K}</c> of the output folder, and writes one
/// table (<see cref="SweepFiles.Json"/>, <see cref="SweepFiles.Markdown"/>) with the mean and sample std over seeds.
/// Resumable: a seed whose summary.json exists is skipped, an interrupted one resumes from its latest checkpoint, and
/// a seed folder written with other options is refused rather than mixed into the table.
/// </summary>
public static class Sweep
{
    /// <summary>Runs <paramref name="request"/> with <paramref name="runner"/>.</summary>
    /// <param name="request">Command, options, seeds, parallelism.</param>
    /// <param name="runner">Runs one seed (in this process or as a child process).</param>
    /// <param name="log">Receives one line per event (seed skipped, resumed, started, finished, failed).</param>
    /// <param name="stop">Stops running seeds at a step boundary with their position saved, and starts no more.</param>
    /// <exception cref="ArgumentException">Bad request (see <see cref="SweepRequest.Validate"/>), or a seed folder
    /// holding a run with other options.</exception>
    public static SweepResult Run(SweepRequest request, ISeedRunner runner, Action<string>? log = null, CancellationToken stop = default)
    {
        log ??= _ => { };
        request.Validate();
        var root = request.Root;
        using var rootLock = OutputFolderLock.Acquire(root);

        var skipped = new List<int>();
        var resumed = new List<int>();
        var pending = new List<SeedRun>();
        foreach (var seed in request.Seeds)
        {
            var options = request.ForSeed(seed);
            var folder = options.OutputDir;
            RequireSameOptions(folder, request.Options);
            if (File.Exists(Path.Combine(folder, RunFiles.SummaryJson)))
            {
                skipped.Add(seed);
                log($"seed {seed}: finished earlier ({Path.Combine(SweepFiles.SeedFolder(seed), RunFiles.SummaryJson)} exists), skipped.");
                continue;
            }
            var resuming = File.Exists(Path.Combine(folder, RunFiles.LatestCheckpoint));
            if (resuming)
            {
                resumed.Add(seed);
            }
            var optionsFile = Path.Combine(root, SweepFiles.SeedOptions(seed));
            AtomicFile.WriteAllText(optionsFile, JsonSerializer.Serialize(ConfigFile.ToFlags(options), new JsonSerializerOptions { WriteIndented = true }));
            pending.Add(new SeedRun(request.Kind, seed, options, resuming, optionsFile, Path.Combine(root, SweepFiles.SeedLog(seed))));
        }

        var parallel = Math.Max(1, Math.Min(Math.Min(request.Parallel, runner.MaxParallel), pending.Count));
        var failures = RunAll(pending, runner, parallel, log, stop);
        var started = pending.Select(p => p.Seed).ToList();
        if (failures.Count > 0 || stop.IsCancellationRequested)
        {
            return new SweepResult(null, skipped, resumed, started, failures, null, null);
        }

        var outcomes = new List<SeedOutcome>();
        foreach (var seed in request.Seeds)
        {
            var summary = Path.Combine(root, SweepFiles.SeedFolder(seed), RunFiles.SummaryJson);
            if (!File.Exists(summary))
            {
                throw new InvalidDataException($"seed {seed} finished without writing {summary}.");
            }
            outcomes.Add(SeedOutcome.Read(seed, summary));
        }
        var firstConfig = Path.Combine(root, SweepFiles.SeedFolder(request.Seeds[0]), RunFiles.ConfigJson);
        var table = SweepTable.Create(request.Kind, outcomes, firstConfig, RunEnvironment.Capture(request.Options.Threads, Math.Min(request.Parallel, runner.MaxParallel)));
        var (json, md) = SweepReport.Write(table, root);
        return new SweepResult(table, skipped, resumed, started, failures, json, md);
    }

    private static List<SeedFailure> RunAll(List<SeedRun> pending, ISeedRunner runner, int parallel, Action<string> log, CancellationToken stop)
    {
        var failures = new List<SeedFailure>();
        var logLock = new object();
        void Log(string line)
        {
            lock (logLock)
            {
                log(line);
            }
        }
        // After a failure no further seed starts (it would most likely fail the same way); running ones finish.
        var failed = false;
        SeedFailure? RunOne(SeedRun run)
        {
            Log(run.Resuming
                ? $"seed {run.Seed}: resuming from {Path.Combine(SweepFiles.SeedFolder(run.Seed), RunFiles.LatestCheckpoint)}."
                : $"seed {run.Seed}: starting in {run.Folder}.");
            var code = runner.Run(run, stop);
            if (code == 0)
            {
                Log($"seed {run.Seed}: finished.");
                return null;
            }
            Log($"seed {run.Seed}: stopped with exit code {code}{(runner is ChildProcessSeedRunner ? $"; its output is in {run.LogFile}" : "")}.");
            return new SeedFailure(run.Seed, code, runner is ChildProcessSeedRunner ? run.LogFile : null);
        }
        if (parallel == 1)
        {
            foreach (var run in pending)
            {
                if (stop.IsCancellationRequested || failures.Count > 0)
                {
                    break;
                }
                if (RunOne(run) is { } f)
                {
                    failures.Add(f);
                }
            }
            return failures;
        }
        using var slots = new SemaphoreSlim(parallel);
        var tasks = pending.Select(run => Task.Run(() =>
        {
            slots.Wait();
            try
            {
                lock (failures)
                {
                    if (failed || stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
                var f = RunOne(run);
                if (f is not null)
                {
                    lock (failures)
                    {
                        failures.Add(f);
                        failed = true;
                    }
                }
            }
            finally
            {
                slots.Release();
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return failures.OrderBy(f => pending.FindIndex(p => p.Seed == f.Seed)).ToList();
    }

    // A seed folder from an earlier sweep must have been run with this sweep's options: a table mixing two
    // configurations would look like seed noise. Options that differ by design (seed, folder, resume) are ignored, as
    // is the input size when this sweep leaves it to the data (config.json records the size the data resolved to).
    private static void RequireSameOptions(string folder, TrainingOptions options)
    {
        var config = Path.Combine(folder, RunFiles.ConfigJson);
        if (!File.Exists(config))
        {
            return;
        }
        var earlier = SweepTable.SharedConfig(config);
        using var now = JsonDocument.Parse(JsonSerializer.Serialize(ConfigFile.ToFlags(options)));
        var differences = new List<string>();
        foreach (var p in now.RootElement.EnumerateObject())
        {
            if (SweepTable.PerSeedOptions.Contains(p.Name) || (p.Name == "input-size" && options.InputSize == 0) || !earlier.TryGetValue(p.Name, out var before))
            {
                continue;
            }
            if (before.GetRawText() != p.Value.GetRawText())
            {
                differences.Add($"{p.Name} {before.GetRawText()} there, {p.Value.GetRawText()} now");
            }
        }
        if (differences.Count > 0)
        {
            throw new ArgumentException($"{folder} holds a run with other options ({string.Join("; ", differences)}): the seeds of one table must share " +
                "their options. Use another --output-dir, or delete that folder to rerun the seed.");
        }
    }
}
