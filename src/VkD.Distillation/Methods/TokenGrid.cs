using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// ViT tokens as a feature map, so a map method (FitNets, attention transfer) can pair a ViT with a CNN: the prefix
/// tokens (class, distillation: 0 to 2 of them) are dropped and the remaining <c>h·h</c> patch tokens [B, h·h, D] become
/// [B, D, h, h]. The prefix count is the one that leaves a square number of tokens, which is unique for grids of at
/// least 2 × 2.
/// </summary>
public static class TokenGrid
{
    /// <summary>Prefix tokens and grid side of a sequence of <paramref name="tokens"/> tokens, or null when none fits.</summary>
    public static (int Prefix, long Side)? Layout(long tokens)
    {
        for (var prefix = 0; prefix <= 2; prefix++)
        {
            var n = tokens - prefix;
            var side = (long)Math.Round(Math.Sqrt(n));
            if (n >= 4 && side * side == n)
            {
                return (prefix, side);
            }
        }
        return null;
    }

    /// <summary>The map shape [B, D, h, h] of a token shape [B, N, D].</summary>
    /// <exception cref="ArgumentException">The tokens are not a square grid after 0 to 2 prefix tokens.</exception>
    public static long[] MapShape(IReadOnlyList<long> tokenShape, string term, string side)
    {
        ArgumentNullException.ThrowIfNull(tokenShape);
        var layout = Layout(tokenShape[1]) ?? throw new ArgumentException(
            $"Loss term '{term}' pairs the {side}'s tokens {MethodInputs.Shape(tokenShape)} with a feature map, but {tokenShape[1]} tokens are not a square grid of patches after 0, 1 or 2 class/distillation tokens.");
        return [tokenShape[0], tokenShape[2], layout.Side, layout.Side];
    }

    /// <summary>Tokens [B, N, D] as the map [B, D, h, h] of their patch tokens.</summary>
    public static Tensor ToMap(Tensor tokens, string term, string side)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var shape = MapShape(tokens.shape, term, side);
        var prefix = tokens.shape[1] - shape[2] * shape[3];
        return tokens.narrow(1, prefix, shape[2] * shape[3]).transpose(1, 2).reshape(shape);
    }

    /// <summary>Brings a map and a token sequence to the same layout (the tokens become a map); other pairs are kept.</summary>
    public static (Tensor Student, Tensor Teacher) Align(Tensor student, Tensor teacher, string term)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        return (student.ndim, teacher.ndim) switch
        {
            (3, 4) => (ToMap(student, term, "student"), teacher),
            (4, 3) => (student, ToMap(teacher, term, "teacher")),
            _ => (student, teacher),
        };
    }

    /// <summary>The shapes <see cref="Align"/> gives.</summary>
    public static (long[] Student, long[] Teacher) AlignShapes(IReadOnlyList<long> student, IReadOnlyList<long> teacher, string term)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        return (student.Count, teacher.Count) switch
        {
            (3, 4) => (MapShape(student, term, "student"), [.. teacher]),
            (4, 3) => ([.. student], MapShape(teacher, term, "teacher")),
            _ => ([.. student], [.. teacher]),
        };
    }
}
