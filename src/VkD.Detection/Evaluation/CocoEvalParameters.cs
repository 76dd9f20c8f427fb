namespace VkD.Detection.Evaluation;

/// <summary>An object-area range of COCOeval, inclusive at both ends (an area of exactly 32² is both small and medium,
/// as in pycocotools).</summary>
/// <param name="Label">Name used in the summary (<c>all</c>, <c>small</c>, <c>medium</c>, <c>large</c>).</param>
/// <param name="Min">Smallest area in range.</param>
/// <param name="Max">Largest area in range.</param>
public sealed record AreaRange(string Label, double Min, double Max)
{
    /// <summary>Whether <paramref name="area"/> lies outside the range (COCOeval's <c>area &lt; lo or area &gt; hi</c>).</summary>
    public bool Excludes(double area) => area < Min || area > Max;
}

/// <summary>
/// COCOeval's bbox parameters (<c>Params.setDetParams</c>). The defaults are the only setting whose 12-number summary
/// is meaningful; the thresholds are built with <see cref="NumpyCompat.Linspace"/> so they are the same doubles.
/// </summary>
public sealed class CocoEvalParameters
{
    /// <summary>IoU thresholds, <c>np.linspace(.5, 0.95, 10)</c>.</summary>
    public IReadOnlyList<double> IouThresholds { get; init; } = NumpyCompat.Linspace(0.5, 0.95, 10);

    /// <summary>Recall thresholds of the interpolated precision, <c>np.linspace(0, 1, 101)</c>.</summary>
    public IReadOnlyList<double> RecallThresholds { get; init; } = NumpyCompat.Linspace(0.0, 1.0, 101);

    /// <summary>Detections kept per image and category, ascending; the last one cuts detections before matching.</summary>
    public IReadOnlyList<int> MaxDetections { get; init; } = [1, 10, 100];

    /// <summary>Area ranges all/small/medium/large: [0, 1e10], [0, 32²], [32², 96²], [96², 1e10].</summary>
    public IReadOnlyList<AreaRange> AreaRanges { get; init; } =
    [
        new("all", 0, 1e5 * 1e5),
        new("small", 0, 32 * 32),
        new("medium", 32 * 32, 96 * 96),
        new("large", 96 * 96, 1e5 * 1e5),
    ];

    /// <summary>Images to evaluate; null means every image of the ground truth (pycocotools' default).</summary>
    public IReadOnlyList<long>? ImageIds { get; init; }

    /// <summary>Categories to evaluate; null means every category of the ground truth.</summary>
    public IReadOnlyList<long>? CategoryIds { get; init; }

    /// <summary>Threads used over categories; results do not depend on it.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}
