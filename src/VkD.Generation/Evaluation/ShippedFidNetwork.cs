using VkD.Data.Datasets;

namespace VkD.Generation.Evaluation;

/// <summary>
/// A domain classifier shipped with VkD.Generation as the default FID/KID feature network of its dataset (the idea of
/// the Fréchet LeNet Distance for MNIST): trained once on the full training set by a committed script
/// (<c>tools/fid/train_fid_network.sh</c>), its pooled penultimate features replace Inception's.
/// </summary>
/// <param name="Model">Zoo name of the classifier.</param>
/// <param name="WeightsPath">Full path of its <c>model.pth</c>.</param>
/// <param name="Channels">Input channels it was trained with.</param>
/// <param name="Dataset">Dataset kind it belongs to.</param>
public sealed record ShippedFidNetwork(string Model, string WeightsPath, int Channels, DatasetKind Dataset)
{
    /// <summary>Folder of the shipped networks, relative to the executable (or a source checkout's root).</summary>
    public const string Folder = "assets/fid";

    // Dataset kind → (zoo model, file, channels). Only domains with a trained network are listed.
    private static readonly Dictionary<DatasetKind, (string Model, string File, int Channels)> Known = new()
    {
        [DatasetKind.FashionMnist] = ("resnet8", "resnet8_fashion_mnist.pth", 1),
    };

    /// <summary>Dataset kinds that have a shipped network.</summary>
    public static IReadOnlyCollection<DatasetKind> Datasets => Known.Keys;

    /// <summary>The shipped network of <paramref name="datasetKind"/>, or null when the dataset has none (or its file
    /// is not found next to the executable, under <paramref name="searchRoots"/>, or in the current folder).</summary>
    public static ShippedFidNetwork? For(DatasetKind datasetKind, params string[] searchRoots)
    {
        ArgumentNullException.ThrowIfNull(searchRoots);
        if (!Known.TryGetValue(datasetKind, out var entry))
        {
            return null;
        }
        var roots = searchRoots.Concat([AppContext.BaseDirectory, Directory.GetCurrentDirectory()]);
        var path = roots.Select(r => Path.GetFullPath(Path.Combine(r, Folder, entry.File))).FirstOrDefault(File.Exists);
        return path is null ? null : new ShippedFidNetwork(entry.Model, path, entry.Channels, datasetKind);
    }
}
