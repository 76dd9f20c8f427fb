using System.Globalization;
using System.Numerics;

namespace VkD.Detection.Evaluation;

/// <summary>
/// The few numpy and Python numerics that COCOeval's printed numbers depend on, reproduced bit for bit:
/// <c>np.linspace</c> (threshold values), numpy's pairwise float64 summation (inside <c>np.mean</c>) and Python's
/// correctly rounded <c>'{:0.3f}'</c> formatting (round half to even on the exact binary value).
/// </summary>
public static class NumpyCompat
{
    /// <summary>numpy's <c>linspace(start, stop, num, endpoint=True)</c>: <c>i * step + start</c>, last value forced to
    /// <paramref name="stop"/>. Matching this matters because COCOeval compares IoUs against these exact doubles.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(num);
        var y = new double[num];
        if (num == 0)
        {
            return y;
        }
        var div = num - 1;
        var delta = stop - start;
        var step = div > 0 ? delta / div : double.NaN;
        for (var i = 0; i < num; i++)
        {
            // numpy multiplies arange by step then adds start (two roundings, not a fused multiply-add).
            y[i] = div > 0 ? ((double)i * step) + start : start;
        }
        if (num > 1)
        {
            y[^1] = stop;
        }
        return y;
    }

    /// <summary>numpy's summation of a contiguous float64 array (as <c>np.add.reduce</c> and <c>np.mean</c> do), so
    /// that means agree with numpy to the last bit: the reduction runs over buffers of 8192 elements
    /// (<c>np.getbufsize()</c>), each summed pairwise and added in turn to a running sum that starts at 0.0.</summary>
    public static double PairwiseSum(ReadOnlySpan<double> a)
    {
        const int bufferSize = 8192;
        var sum = 0.0;
        for (var start = 0; start < a.Length; start += bufferSize)
        {
            sum += Pairwise(a.Slice(start, Math.Min(bufferSize, a.Length - start)));
        }
        return sum;
    }

    /// <summary>numpy's <c>np.mean</c> of a float64 vector: pairwise sum divided by the count.</summary>
    public static double Mean(ReadOnlySpan<double> a) => PairwiseSum(a) / a.Length;

    private static double Pairwise(ReadOnlySpan<double> a)
    {
        const int blockSize = 128;
        var n = a.Length;
        if (n < 8)
        {
            var res = 0.0;
            for (var i = 0; i < n; i++)
            {
                res += a[i];
            }
            return res;
        }
        if (n <= blockSize)
        {
            Span<double> r = stackalloc double[8];
            for (var j = 0; j < 8; j++)
            {
                r[j] = a[j];
            }
            var i = 8;
            for (; i < n - (n % 8); i += 8)
            {
                for (var j = 0; j < 8; j++)
                {
                    r[j] += a[i + j];
                }
            }
            var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++)
            {
                res += a[i];
            }
            return res;
        }
        var n2 = n / 2;
        n2 -= n2 % 8;
        return Pairwise(a[..n2]) + Pairwise(a[n2..]);
    }

    /// <summary>Python's <c>format(value, '0.{digits}f')</c>: the exact binary value rounded half to even. .NET's
    /// "F" format rounds decimal ties away from zero, which differs for values such as 0.0625.</summary>
    public static string FormatFixed(double value, int digits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(digits);
        if (double.IsNaN(value))
        {
            return "nan";
        }
        if (double.IsInfinity(value))
        {
            return value > 0 ? "inf" : "-inf";
        }
        var negative = double.IsNegative(value);
        var bits = BitConverter.DoubleToInt64Bits(Math.Abs(value));
        var exponent = (int)((bits >> 52) & 0x7FF);
        var fraction = bits & 0xFFFFFFFFFFFFFL;
        BigInteger mantissa = exponent == 0 ? fraction : fraction | (1L << 52);
        var binaryExponent = exponent == 0 ? -1074 : exponent - 1075;
        // value = mantissa * 2^binaryExponent; scaled = value * 10^digits, rounded half to even to an integer.
        var numerator = mantissa * BigInteger.Pow(10, digits);
        BigInteger scaled;
        if (binaryExponent >= 0)
        {
            scaled = numerator << binaryExponent;
        }
        else
        {
            var denominator = BigInteger.One << -binaryExponent;
            scaled = BigInteger.DivRem(numerator, denominator, out var remainder);
            var twice = remainder * 2;
            if (twice > denominator || (twice == denominator && !scaled.IsEven))
            {
                scaled += 1;
            }
        }
        var text = scaled.ToString(CultureInfo.InvariantCulture);
        if (digits > 0)
        {
            text = text.PadLeft(digits + 1, '0');
            text = text[..^digits] + "." + text[^digits..];
        }
        return negative ? "-" + text : text;
    }
}
