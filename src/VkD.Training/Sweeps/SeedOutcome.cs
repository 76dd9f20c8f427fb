using System.Text.Json;

namespace VkD.Training.Sweeps;

/// <summary>What one seed's run reached, read from its <c>summary.json</c>.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="BestAcc1">Top-1 (%) of the best epoch (by top-1).</param>
/// <param name="BestAcc5">Top-5 (%) of that same epoch.</param>
/// <param name="BestEpoch">0-based epoch of the best evaluation.</param>
/// <param name="LastAcc1">Top-1 (%) of the last evaluation.</param>
/// <param name="LastAcc5">Top-5 (%) of the last evaluation.</param>
/// <param name="Epochs">Epochs the run did.</param>
/// <param name="Seconds">Wall time the summary records (the last process's part when the run was resumed).</param>
public sealed record SeedOutcome(int Seed, double BestAcc1, double BestAcc5, int BestEpoch, double LastAcc1, double LastAcc5, int Epochs, double Seconds)
{
    /// <summary>Reads <paramref name="summaryPath"/> (a run's summary.json) as the outcome of <paramref name="seed"/>.</summary>
    /// <exception cref="InvalidDataException">Not JSON, or without the evaluations a sweep compares.</exception>
    public static SeedOutcome Read(int seed, string summaryPath)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(summaryPath));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{summaryPath} is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            JsonElement Evaluation(string name)
            {
                if (!root.TryGetProperty(name, out var e) || e.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"{summaryPath} has no '{name}' evaluation: a sweep compares evaluated runs (give the command an evaluation set).");
                }
                return e;
            }
            double Metric(JsonElement evaluation, string evaluationName, string metric) =>
                evaluation.TryGetProperty(metric, out var v) && v.ValueKind == JsonValueKind.Number
                    ? v.GetDouble()
                    : throw new InvalidDataException($"{summaryPath}: '{evaluationName}' has no numeric '{metric}'.");
            int Integer(string name) =>
                root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number
                    ? v.GetInt32()
                    : throw new InvalidDataException($"{summaryPath} has no numeric '{name}'.");
            var best = Evaluation("best");
            var last = Evaluation("final");
            var seconds = root.TryGetProperty("seconds", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : double.NaN;
            return new SeedOutcome(seed, Metric(best, "best", "acc1"), Metric(best, "best", "acc5"), Integer("best_epoch"),
                Metric(last, "final", "acc1"), Metric(last, "final", "acc5"), Integer("epochs"), seconds);
        }
    }
}
