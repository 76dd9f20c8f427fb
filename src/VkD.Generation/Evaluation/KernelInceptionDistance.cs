using VkD.Data;
using static TorchSharp.torch;

namespace VkD.Generation.Evaluation;

/// <summary>A KID estimate: the mean and the (population) standard deviation of the per-subset MMD².</summary>
/// <param name="Mean">Mean over the subsets.</param>
/// <param name="Std">Standard deviation over the subsets (<c>np.std</c>, ddof 0).</param>
/// <param name="Subsets">Number of subsets.</param>
/// <param name="SubsetSize">Images per subset.</param>
public sealed record KidResult(double Mean, double Std, int Subsets, int SubsetSize);

/// <summary>
/// The kernel inception distance (Bińkowski et al. 2018) as torch-fidelity computes it: over random subsets of m
/// features from each side (drawn without replacement), the unbiased MMD² with the cubic polynomial kernel
/// <c>k(x, y) = (xᵀy / D + 1)³</c>, i.e. <c>[(ΣK_xx + ΣK_yy − diagonals) / (m − 1) − 2 ΣK_xy / m] / m</c>; defaults
/// 100 subsets of 1000. In float64.
/// </summary>
public static class KernelInceptionDistance
{
    /// <summary>KID of <paramref name="features1"/> [N1, D] and <paramref name="features2"/> [N2, D] over
    /// <paramref name="subsets"/> seeded random subsets of <paramref name="subsetSize"/> (clipped to the smaller set).</summary>
    public static KidResult Compute(Tensor features1, Tensor features2, int subsets = 100, int subsetSize = 1000, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(features1);
        ArgumentNullException.ThrowIfNull(features2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(subsets);
        var m = (int)Math.Min(subsetSize, Math.Min(features1.shape[0], features2.shape[0]));
        if (m < 2)
        {
            throw new ArgumentException($"KID needs at least 2 features on each side; got {features1.shape[0]} and {features2.shape[0]}.");
        }
        var rng = DeterministicRandom.ForStream(seed, 0x4B1D);
        var first = new long[subsets][];
        var second = new long[subsets][];
        for (var s = 0; s < subsets; s++)
        {
            first[s] = Choose(rng, (int)features1.shape[0], m);
            second[s] = Choose(rng, (int)features2.shape[0], m);
        }
        return Compute(features1, features2, first, second);
    }

    /// <summary>KID over the given subsets (row indices into each side, one pair of arrays per subset).</summary>
    public static KidResult Compute(Tensor features1, Tensor features2, IReadOnlyList<long[]> subsets1, IReadOnlyList<long[]> subsets2)
    {
        ArgumentNullException.ThrowIfNull(features1);
        ArgumentNullException.ThrowIfNull(features2);
        ArgumentNullException.ThrowIfNull(subsets1);
        ArgumentNullException.ThrowIfNull(subsets2);
        if (subsets1.Count != subsets2.Count || subsets1.Count == 0)
        {
            throw new ArgumentException($"KID: {subsets1.Count} and {subsets2.Count} subsets; give the same number (> 0) for both sides.");
        }
        using var scope = NewDisposeScope();
        var x = features1.detach().to(float64, CPU);
        var y = features2.detach().to(float64, CPU);
        var values = new double[subsets1.Count];
        for (var s = 0; s < values.Length; s++)
        {
            using var inner = NewDisposeScope();
            values[s] = Mmd2Unbiased(x.index_select(0, tensor(subsets1[s])), y.index_select(0, tensor(subsets2[s])));
        }
        var mean = values.Average();
        var std = Math.Sqrt(values.Select(v => (v - mean) * (v - mean)).Average());
        return new KidResult(mean, std, values.Length, subsets1[0].Length);
    }

    /// <summary>The unbiased MMD² of two equally sized feature sets [m, D] with the cubic polynomial kernel.</summary>
    public static double Mmd2Unbiased(Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.ndim != 2 || y.ndim != 2 || x.shape[0] != y.shape[0] || x.shape[1] != y.shape[1] || x.shape[0] < 2)
        {
            throw new ArgumentException($"MMD: feature sets must both be [m >= 2, D]; got [{string.Join(", ", x.shape)}] and [{string.Join(", ", y.shape)}].");
        }
        using var scope = NewDisposeScope();
        var xd = x.to(float64);
        var yd = y.to(float64);
        var d = (double)x.shape[1];
        var m = (double)x.shape[0];
        var a = (xd.matmul(xd.t()) / d + 1).pow(3) + (yd.matmul(yd.t()) / d + 1).pow(3);
        var b = (xd.matmul(yd.t()) / d + 1).pow(3);
        var t = (a.sum() - a.diagonal().sum()) / (m - 1) - b.sum() * 2 / m;
        return (t / m).item<double>();
    }

    // m distinct indices of [0, n), uniformly (a partial Fisher-Yates shuffle).
    private static long[] Choose(DeterministicRandom rng, int n, int m)
    {
        var pool = Enumerable.Range(0, n).ToArray();
        var chosen = new long[m];
        for (var i = 0; i < m; i++)
        {
            var j = i + rng.NextInt(n - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
            chosen[i] = pool[i];
        }
        return chosen;
    }
}
