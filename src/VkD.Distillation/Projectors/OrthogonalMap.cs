namespace VkD.Distillation.Projectors;

/// <summary>The map from the unconstrained parameter <c>original</c> to an orthogonal matrix, as in
/// <c>torch.nn.utils.parametrizations.orthogonal(..., orthogonal_map=...)</c>.</summary>
public enum OrthogonalMap
{
    /// <summary><c>expm(A)</c> of the skew-symmetric <c>A = tril(X) - tril(X)^T</c> (PyTorch's default for square weights).</summary>
    MatrixExp,

    /// <summary>The Cayley map <c>(I - A/2)^{-1} (I + A/2)</c> of the same skew-symmetric <c>A</c>.</summary>
    Cayley,

    /// <summary>The product of the Householder reflectors stored below the diagonal of <c>X</c> (PyTorch's default for
    /// non-square weights).</summary>
    Householder,
}

/// <summary>How the orthogonal map is evaluated. Both formulations give the same matrix and the same gradients up to
/// rounding; only the cost differs.</summary>
public enum OrthogonalComputation
{
    /// <summary>The fast path where it is cheaper (tall matrices; every Householder case), else the reference path.</summary>
    Auto,

    /// <summary>Low-rank formulation at O(n k^2 + k^3): Stiefel-geodesic block exponential, Woodbury-reduced Cayley
    /// solve, compact-WY Householder product.</summary>
    Fast,

    /// <summary>PyTorch's exact n x n formulation (pad to n x n, <c>matrix_exp</c> / <c>solve</c> /
    /// <c>householder_product</c>), kept as the reference the fast path is tested against.</summary>
    Reference,
}

/// <summary>Parsing of projector names used by configuration files and the command line.</summary>
public static class OrthogonalMapNames
{
    /// <summary>PyTorch's default map for a weight of <paramref name="rows"/> x <paramref name="columns"/>: matrix_exp
    /// for square, householder otherwise.</summary>
    public static OrthogonalMap DefaultFor(int rows, int columns) =>
        rows == columns ? OrthogonalMap.MatrixExp : OrthogonalMap.Householder;

    /// <summary>PyTorch's spelling of <paramref name="map"/> (<c>matrix_exp</c>, <c>cayley</c>, <c>householder</c>).</summary>
    public static string ToPyTorchName(this OrthogonalMap map) => map switch
    {
        OrthogonalMap.MatrixExp => "matrix_exp",
        OrthogonalMap.Cayley => "cayley",
        OrthogonalMap.Householder => "householder",
        _ => throw new ArgumentOutOfRangeException(nameof(map), map, "Unknown orthogonal map."),
    };

    /// <summary>Parses <c>matrix_exp</c>, <c>cayley</c> or <c>householder</c> (case-insensitive).</summary>
    public static OrthogonalMap Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "matrix_exp" or "matrixexp" or "expm" => OrthogonalMap.MatrixExp,
        "cayley" => OrthogonalMap.Cayley,
        "householder" => OrthogonalMap.Householder,
        _ => throw new ArgumentException($"Unknown orthogonal map '{name}'; expected matrix_exp, cayley or householder.", nameof(name)),
    };
}
