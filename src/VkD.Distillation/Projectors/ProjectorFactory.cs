namespace VkD.Distillation.Projectors;

/// <summary>Creates projectors by name: <c>householder</c>, <c>matrix_exp</c>, <c>cayley</c>, <c>linear</c>,
/// <c>auto</c> (PyTorch's default orthogonal map for the shape), or <c>scaled</c> (ViDT's <c>OrthogonalLinear</c>,
/// s ⊙ Wx + b, with the Householder map: an orthogonal W plus a learnable per-channel scale and bias).</summary>
public static class ProjectorFactory
{
    /// <summary>The accepted names.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "auto", "householder", "matrix_exp", "cayley", "linear", "scaled" };

    /// <summary>Creates the projector <paramref name="name"/> from d_s = <paramref name="inFeatures"/> to d_t =
    /// <paramref name="outFeatures"/>. <paramref name="options"/> applies to the orthogonal ones (its Map is
    /// overridden by the name unless the name is <c>auto</c>).</summary>
    public static ProjectorModule Create(string name, int inFeatures, int outFeatures, OrthogonalProjectorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        options ??= new OrthogonalProjectorOptions();
        var key = name.Trim().ToLowerInvariant();
        return key switch
        {
            "linear" => new LinearProjector(inFeatures, outFeatures, options.Generator),
            "scaled" => new ScaledOrthogonalProjector(inFeatures, outFeatures, bias: true, options with { Map = OrthogonalMap.Householder }),
            "auto" => new OrthogonalProjector(inFeatures, outFeatures, options with { Map = null }),
            "householder" or "matrix_exp" or "cayley" =>
                new OrthogonalProjector(inFeatures, outFeatures, options with { Map = OrthogonalMapNames.Parse(key) }),
            _ => throw new ArgumentException(
                $"Unknown projector '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}
