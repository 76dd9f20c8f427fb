using VkD.Distillation.Teachers;
using VkD.Generation.Models;
using VkD.Generation.Training;
using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Generation.Evaluation;

/// <summary>How a generator is evaluated.</summary>
public sealed record GanEvaluationOptions
{
    /// <summary>Generated images per evaluation (10 000 in the reference).</summary>
    public int Samples { get; init; } = 10_000;

    /// <summary>Images per generator / feature-network forward.</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>Seed of the evaluation noise (the same noise every evaluation, so evaluations compare).</summary>
    public long Seed { get; init; } = 1234;

    /// <summary>KID subsets.</summary>
    public int KidSubsets { get; init; } = 100;

    /// <summary>KID subset size (clipped to the smaller set).</summary>
    public int KidSubsetSize { get; init; } = 1000;
}

/// <summary>
/// FID and KID of a generator's samples against a <see cref="RealFeatureReference"/>, through one frozen feature
/// network. Samples are drawn in eval mode (stored batch-norm statistics, no spectral-norm update), from fixed noise
/// with classes cycling 0, 1, ..., so the class mix equals the balanced real one. The distillation teacher must not
/// be the feature network (it would grade its own pupil).
/// </summary>
public sealed class GanEvaluator
{
    /// <summary>Creates the evaluator.</summary>
    public GanEvaluator(ITeacher featureNetwork, GanImageAdapter adapter, RealFeatureReference reference, GanEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(featureNetwork);
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(reference);
        FeatureNetwork = featureNetwork;
        Adapter = adapter;
        Reference = reference;
        Options = options ?? new GanEvaluationOptions();
    }

    /// <summary>The feature network.</summary>
    public ITeacher FeatureNetwork { get; }

    /// <summary>Its input adapter.</summary>
    public GanImageAdapter Adapter { get; }

    /// <summary>The real features.</summary>
    public RealFeatureReference Reference { get; }

    /// <summary>The settings.</summary>
    public GanEvaluationOptions Options { get; }

    /// <summary>Metric names: <c>fid</c>, <c>kid</c>, <c>kid_std</c>.</summary>
    public static IReadOnlyList<string> MetricNames { get; } = ["fid", "kid", "kid_std"];

    /// <summary>FID, KID and its spread for <paramref name="generator"/>.</summary>
    public MetricSet Evaluate(BigGanGenerator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        using var features = GeneratedFeatures(generator, Options.Samples);
        using var stats = GaussianStatistics.FromFeatures(features);
        var fid = FrechetDistance.Compute(stats, Reference.Statistics);
        var kid = KernelInceptionDistance.Compute(features, Reference.Features, Options.KidSubsets, Options.KidSubsetSize, Options.Seed);
        return new MetricSet(new Dictionary<string, double> { ["fid"] = fid, ["kid"] = kid.Mean, ["kid_std"] = kid.Std }, (int)features.shape[0]);
    }

    /// <summary>Features [count, D] of <paramref name="count"/> samples of <paramref name="generator"/>.</summary>
    public Tensor GeneratedFeatures(BigGanGenerator generator, int count)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        var parts = new List<Tensor>();
        try
        {
            for (var start = 0; start < count; start += Options.BatchSize)
            {
                using var scope = NewDisposeScope();
                var images = GanSampler.Sample(generator, start, Math.Min(Options.BatchSize, count - start), Options.Seed);
                parts.Add(FeatureExtraction.Features(FeatureNetwork, Adapter, images).MoveToOuterDisposeScope());
            }
            return cat(parts, 0);
        }
        finally
        {
            foreach (var p in parts)
            {
                p.Dispose();
            }
        }
    }
}

/// <summary>Deterministic samples of a generator.</summary>
public static class GanSampler
{
    /// <summary>Samples <paramref name="count"/> images starting at position <paramref name="start"/> of the sample
    /// stream <paramref name="seed"/>: image i has noise drawn from (seed, i) and class <c>i mod classes</c>, so any
    /// range of the stream is the same whatever the batch size. The generator is put in eval mode and restored.</summary>
    public static Tensor Sample(BigGanGenerator generator, int start, int count, long seed, IReadOnlyList<long>? classes = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var wasTraining = generator.training;
        generator.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var z = stack(Enumerable.Range(start, count).Select(i =>
            {
                using var g = new Generator((ulong)VkD.Training.Loop.TrainingLoop.StepSeed(seed, i));
                return randn([generator.Config.DimZ], generator: g);
            }).ToArray());
            var y = tensor(classes?.ToArray() ?? Enumerable.Range(start, count).Select(i => (long)(i % generator.Config.NumClasses)).ToArray());
            var device = generator.parameters().First().device;
            return generator.call(z.to(device), y.to(device)).to(CPU).MoveToOuterDisposeScope();
        }
        finally
        {
            generator.train(wasTraining);
        }
    }

    /// <summary>A class grid: <paramref name="perClass"/> samples of each class, one row per class (fixed noise per column).</summary>
    public static Tensor ClassGrid(BigGanGenerator generator, int perClass, long seed)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perClass);
        var classes = generator.Config.NumClasses;
        var wasTraining = generator.training;
        generator.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var noise = Enumerable.Range(0, perClass).Select(i =>
            {
                using var g = new Generator((ulong)VkD.Training.Loop.TrainingLoop.StepSeed(seed ^ 0x5A, i));
                return randn([generator.Config.DimZ], generator: g);
            }).ToArray();
            var z = stack(Enumerable.Range(0, classes * perClass).Select(k => noise[k % perClass]).ToArray());
            var y = tensor(Enumerable.Range(0, classes * perClass).Select(k => (long)(k / perClass)).ToArray());
            var device = generator.parameters().First().device;
            return generator.call(z.to(device), y.to(device)).to(CPU).MoveToOuterDisposeScope();
        }
        finally
        {
            generator.train(wasTraining);
        }
    }
}
