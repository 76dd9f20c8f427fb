using VkD.Distillation.Teachers;
using VkD.Generation.Training;
using VkD.Interop.Checkpoints;
using static TorchSharp.torch;

namespace VkD.Generation.Evaluation;

/// <summary>
/// The real side of FID and KID: the feature network's features of real images [N, D] (kept for KID) and their
/// Gaussian fit (for FID). Computed once per feature network and data and cached in a file whose <see cref="Key"/>
/// names both, so a run (or <c>vkd gan eval</c>) with the same ones reads it instead of recomputing.
/// </summary>
public sealed class RealFeatureReference : IDisposable
{
    private RealFeatureReference(Tensor features, string key)
    {
        Features = features.DetachFromDisposeScope();
        Statistics = GaussianStatistics.FromFeatures(features);
        Key = key;
    }

    /// <summary>Real features [N, D] (float32, CPU).</summary>
    public Tensor Features { get; }

    /// <summary>Their Gaussian fit.</summary>
    public GaussianStatistics Statistics { get; }

    /// <summary>What the features were computed with (feature network, data, count, input adapter).</summary>
    public string Key { get; }

    /// <summary>Features of the first <paramref name="count"/> images of <paramref name="images"/> (all when 0 or
    /// more than there are) through <paramref name="adapter"/> and <paramref name="network"/>.</summary>
    public static RealFeatureReference Compute(GanImageSet images, ITeacher network, GanImageAdapter adapter, string key, int count = 0, int batchSize = 100)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(adapter);
        var n = count <= 0 ? images.Count : Math.Min(count, images.Count);
        var parts = new List<Tensor>();
        try
        {
            for (var start = 0; start < n; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var indices = Enumerable.Range(start, Math.Min(batchSize, n - start)).ToArray();
                parts.Add(FeatureExtraction.Features(network, adapter, images.Images(indices)).MoveToOuterDisposeScope());
            }
            using var all = cat(parts, 0);
            return new RealFeatureReference(all.clone(), key);
        }
        finally
        {
            foreach (var p in parts)
            {
                p.Dispose();
            }
        }
    }

    /// <summary>Writes the reference (a PyTorch-readable dict: <c>features</c>, <c>mean</c>, <c>covariance</c>, <c>key</c>).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        CheckpointWriter.Write(path, new Dictionary<string, object?>
        {
            ["features"] = Features,
            ["mean"] = Statistics.Mean,
            ["covariance"] = Statistics.Covariance,
            ["key"] = Key,
            ["format"] = "vkd.net/fid-reference/1",
        });
    }

    /// <summary>The reference cached at <paramref name="path"/> when it was computed with <paramref name="key"/>;
    /// null when there is no such file or it was computed with something else.</summary>
    public static RealFeatureReference? TryLoad(string path, string key)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        using var checkpoint = CheckpointReader.Read(path);
        if (checkpoint.Entries.GetValueOrDefault("key") as string != key || checkpoint.Entries.GetValueOrDefault("features") is not Tensor features)
        {
            return null;
        }
        return new RealFeatureReference(features.to(float32).clone(), key);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Features.Dispose();
        Statistics.Dispose();
    }
}

/// <summary>Features of images through a frozen network.</summary>
public static class FeatureExtraction
{
    /// <summary>The pooled features [B, D] (float32, CPU) of GAN images [B, C, 32, 32] in [-1, 1].</summary>
    public static Tensor Features(ITeacher network, GanImageAdapter adapter, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(adapter);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var outputs = network.Forward(adapter.Apply(images));
        outputs.Logits?.Dispose();
        return outputs.Features.to(float32, CPU).MoveToOuterDisposeScope();
    }
}
