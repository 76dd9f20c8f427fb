namespace VkD.Data;

/// <summary>A small, fast, portable PRNG (xoshiro256** seeded through SplitMix64) that every random transform takes
/// explicitly. Streams are derived from integer keys, e.g. <c>(seed, epoch, position)</c>, so a sample's augmentation
/// does not depend on which thread ran it or on what ran before it.</summary>
public sealed class DeterministicRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator from one seed.</summary>
    public DeterministicRandom(ulong seed)
    {
        var sm = seed;
        _s0 = SplitMix(ref sm);
        _s1 = SplitMix(ref sm);
        _s2 = SplitMix(ref sm);
        _s3 = SplitMix(ref sm);
    }

    /// <summary>A generator for the stream named by <paramref name="keys"/> (e.g. seed, epoch, rank, position):
    /// different key tuples give independent streams.</summary>
    public static DeterministicRandom ForStream(params long[] keys)
    {
        ulong h = 0x6A09E667F3BCC908UL;
        foreach (var k in keys)
        {
            h ^= (ulong)k;
            h = SplitMix(ref h);
        }
        return new DeterministicRandom(h);
    }

    /// <summary>64 random bits.</summary>
    public ulong NextUInt64()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>) (Python's <c>random.uniform</c>).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>), unbiased.</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"Range must be positive, got {maxExclusive}.");
        }
        var bound = (ulong)maxExclusive;
        var threshold = (0UL - bound) % bound;
        while (true)
        {
            var r = NextUInt64();
            var m = Math.BigMul(r, bound, out var low);
            if (low >= threshold)
            {
                return (int)m;
            }
        }
    }

    /// <summary>Uniform integer in [<paramref name="minInclusive"/>, <paramref name="maxInclusive"/>] (Python's <c>random.randint</c>).</summary>
    public int NextIntInclusive(int minInclusive, int maxInclusive) => minInclusive + NextInt(maxInclusive - minInclusive + 1);

    /// <summary>Standard normal (Box-Muller; one draw per call, nothing cached, so the stream stays position-independent).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Gamma(<paramref name="shape"/>, 1) by Marsaglia-Tsang (with the boost for shape &lt; 1).</summary>
    public double NextGamma(double shape)
    {
        if (shape <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), $"Gamma shape must be positive, got {shape}.");
        }
        if (shape < 1.0)
        {
            var u = NextDouble();
            return NextGamma(shape + 1.0) * Math.Pow(1.0 - u, 1.0 / shape);
        }
        double d = shape - 1.0 / 3.0, c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = NextGaussian();
                v = 1.0 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            var u = 1.0 - NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v))
            {
                return d * v;
            }
        }
    }

    /// <summary>Beta(<paramref name="a"/>, <paramref name="b"/>) from two gamma draws.</summary>
    public double NextBeta(double a, double b)
    {
        var x = NextGamma(a);
        var y = NextGamma(b);
        return x / (x + y);
    }

    /// <summary>A uniformly random permutation of 0..n-1 (Fisher-Yates).</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++)
        {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    private static ulong SplitMix(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
