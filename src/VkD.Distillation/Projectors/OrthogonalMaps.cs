using static TorchSharp.torch;

namespace VkD.Distillation.Projectors;

/// <summary>
/// The orthogonal maps of <c>torch.nn.utils.parametrizations.orthogonal</c> as plain functions of the parameter
/// <c>X</c> (n x k, n &gt;= k), without the fixed base. Two formulations per map: PyTorch's exact n x n one
/// (<see cref="Reference"/>) and a low-rank one that gives the same first k columns at O(n k^2 + k^3) (<see cref="Fast"/>).
/// </summary>
public static class OrthogonalMaps
{
    /// <summary>
    /// PyTorch's formulation. matrix_exp/cayley pad <c>tril(X)</c> with zeros to n x n, form <c>A = Xpad - Xpad^T</c> and
    /// take the first k columns of <c>expm(A)</c> or of <c>solve(I - A/2, I + A/2)</c>; householder takes
    /// <c>householder_product(tril(X, -1), tau)</c> with <c>tau = 2 / (1 + |column|^2)</c> and scales its columns by the
    /// diagonal factor of <paramref name="diagonal"/>.
    /// </summary>
    public static Tensor Reference(Tensor x, OrthogonalMap map, HouseholderDiagonal diagonal)
    {
        var (n, k) = TallShape(x);
        using var scope = NewDisposeScope();
        Tensor q;
        if (map == OrthogonalMap.Householder)
        {
            var a = x.tril(-1);
            var tau = 2.0 / (1.0 + (a * a).sum(dim: 0));
            q = linalg.householder_product(a, tau) * DiagonalFactor(x, diagonal).unsqueeze(0);
        }
        else
        {
            var xl = x.tril();
            if (n != k)
            {
                xl = cat(new[] { xl, zeros(n, n - k, x.dtype, x.device) }, 1);
            }
            var skew = xl - xl.t();
            if (map == OrthogonalMap.MatrixExp)
            {
                q = linalg.matrix_exp(skew);
            }
            else
            {
                var id = eye(n, dtype: x.dtype, device: x.device);
                q = linalg.solve(id - 0.5 * skew, id + 0.5 * skew);
            }
            if (n != k)
            {
                q = q.narrow(1, 0, k);
            }
        }
        return q.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same matrix as <see cref="Reference"/> through the low-rank structure of the parameter. Write
    /// <c>tril(X) = [L; B]</c> with L the top k x k block and <c>S = L - L^T</c>; then <c>A = [[S, -B^T], [B, 0]]</c> maps
    /// the span of <c>[[Y1], [B Y2]]</c> to itself as the 2k x 2k matrix <c>M = [[S, -B^T B], [I, 0]]</c> acting on
    /// <c>(Y1, Y2)</c>. So <c>expm(A)[:, :k] = [[Z1], [B Z2]]</c> with <c>Z = expm(M)[:, :k]</c> (the Stiefel geodesic
    /// of Edelman, Arias and Smith written without a QR of B, so rank-deficient B, e.g. at initialisation, has finite
    /// gradients), and the Cayley columns solve <c>(I - M/2) Z = [[I + S/2], [I/2]]</c> (a Woodbury reduction).
    /// Householder uses the compact WY form <c>I - V T V^T</c> with <c>T^{-1} = striu(V^T V) + diag(1/tau)</c>.
    /// </summary>
    public static Tensor Fast(Tensor x, OrthogonalMap map, HouseholderDiagonal diagonal)
    {
        var (n, k) = TallShape(x);
        if (map == OrthogonalMap.Householder)
        {
            using var hScope = NewDisposeScope();
            var q = CompactWyHouseholder(x) * DiagonalFactor(x, diagonal).unsqueeze(0);
            return q.MoveToOuterDisposeScope();
        }
        if (n == k)
        {
            // No low-rank structure to exploit: the skew matrix is a full n x n one.
            return Reference(x, map, diagonal);
        }
        using var scope = NewDisposeScope();
        var top = x.narrow(0, 0, k).tril();
        var s = top - top.t();
        var b = x.narrow(0, k, n - k);
        var g = b.t().matmul(b);
        // Similarity by diag(I, alpha I) is exact for any alpha > 0; alpha ~ |B|^-1 keeps M close to normal, which keeps
        // the scaling-and-squaring of expm and the Cayley solve as accurate as on a skew matrix when |B| is large.
        var alpha = 1.0 / Math.Sqrt(1.0 + g.detach().norm().to_type(ScalarType.Float64).item<double>());
        var eyeK = eye(k, dtype: x.dtype, device: x.device);
        var m = cat(new[]
        {
            cat(new[] { s, g * -alpha }, 1),
            cat(new[] { eyeK * (1.0 / alpha), zeros(k, k, x.dtype, x.device) }, 1),
        }, 0);
        Tensor z;
        if (map == OrthogonalMap.MatrixExp)
        {
            z = linalg.matrix_exp(m).narrow(1, 0, k);
        }
        else
        {
            var rhs = cat(new[] { eyeK + 0.5 * s, eyeK * (0.5 / alpha) }, 0);
            z = linalg.solve(eye(2 * k, dtype: x.dtype, device: x.device) - 0.5 * m, rhs);
        }
        var result = cat(new[] { z.narrow(0, 0, k), b.matmul(z.narrow(0, k, k) * alpha) }, 0);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Evaluates <paramref name="map"/> with the formulation chosen by <paramref name="computation"/>.</summary>
    public static Tensor Evaluate(Tensor x, OrthogonalMap map, OrthogonalComputation computation, HouseholderDiagonal diagonal) =>
        UsesFastPath(x.shape[0], x.shape[1], map, computation) ? Fast(x, map, diagonal) : Reference(x, map, diagonal);

    /// <summary>True when <see cref="Evaluate"/> takes the fast path for a tall n x k parameter.</summary>
    public static bool UsesFastPath(long n, long k, OrthogonalMap map, OrthogonalComputation computation) => computation switch
    {
        OrthogonalComputation.Fast => true,
        OrthogonalComputation.Reference => false,
        // The 2k x 2k block formulation only pays off when 2k < n; compact WY is never slower than householder_product.
        _ => map == OrthogonalMap.Householder || 2 * k < n,
    };

    /// <summary>
    /// PyTorch's <c>_make_orthogonal</c>: the Q factor of the QR decomposition of a tall <paramref name="a"/> through
    /// <c>geqrf</c> and <c>householder_product</c>, with each column multiplied by the sign of the matching diagonal
    /// entry of R.
    /// </summary>
    public static Tensor MakeOrthogonal(Tensor a)
    {
        using var scope = NewDisposeScope();
        var (r, tau) = geqrf(a);
        var q = linalg.householder_product(r, tau);
        q = q * r.diagonal().sgn().unsqueeze(0);
        return q.MoveToOuterDisposeScope();
    }

    /// <summary>PyTorch's <c>_is_orthogonal</c>: <c>allclose(Q^T Q, I, atol = 10 n eps)</c> with the default rtol 1e-5.</summary>
    public static bool IsOrthogonal(Tensor q)
    {
        using var scope = NewDisposeScope();
        var n = q.shape[0];
        var k = q.shape[1];
        var eps = q.dtype == ScalarType.Float64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
        var id = eye(k, dtype: q.dtype, device: q.device);
        return q.t().matmul(q).allclose(id, rtol: 1e-5, atol: 10.0 * n * eps);
    }

    private static Tensor CompactWyHouseholder(Tensor x)
    {
        var (n, k) = TallShape(x);
        var v = x.tril(-1) + eye(n, k, dtype: x.dtype, device: x.device);
        var gram = v.t().matmul(v);
        // diag(gram) / 2 = (1 + |tril(X,-1)[:, i]|^2) / 2 = 1 / tau_i, the same tau as PyTorch's forward.
        var tInverse = gram.triu(1) + (gram.diagonal() * 0.5).diag();
        var tTimesVTopT = linalg.solve(tInverse, v.narrow(0, 0, k).t());
        return eye(n, k, dtype: x.dtype, device: x.device) - v.matmul(tTimesVTopT);
    }

    private static Tensor DiagonalFactor(Tensor x, HouseholderDiagonal diagonal)
    {
        var d = x.diagonal();
        return diagonal == HouseholderDiagonal.IntCast
            ? d.to_type(ScalarType.Int32).to_type(x.dtype)
            : d.detach().ge(0).to_type(x.dtype) * 2.0 - 1.0;
    }

    private static (long N, long K) TallShape(Tensor x)
    {
        if (x.ndim != 2 || x.shape[0] < x.shape[1])
        {
            throw new ArgumentException(
                $"Expected a tall parameter of shape [n, k] with n >= k, got [{string.Join(", ", x.shape)}].", nameof(x));
        }
        return (x.shape[0], x.shape[1]);
    }
}

/// <summary>How the Householder map uses the diagonal of <c>original</c> to choose the sign of each column.</summary>
public enum HouseholderDiagonal
{
    /// <summary>The sign of each diagonal entry (negative gives -1, otherwise +1), never trained and never zero: weight
    /// decay on the raw parameter cannot collapse W. Equal to PyTorch on every PyTorch-made state (diagonal = ±1).</summary>
    Sign,

    /// <summary>PyTorch's <c>X.diagonal().int()</c>: truncation toward zero. One AdamW step with weight decay shrinks the
    /// -1 diagonal to -0.999975, which truncates to 0 and makes W = 0 (the released VkD classification code's collapse).</summary>
    IntCast,
}
