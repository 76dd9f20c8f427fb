using VkD.Detection.Evaluation;

namespace VkD.Tests.Detection;

public sealed class NumpyCompatTests
{
    [Fact]
    public void Linspace_reproduces_numpy_threshold_doubles()
    {
        var iou = NumpyCompat.Linspace(0.5, 0.95, 10);
        // Values printed by numpy 1.24 repr(np.linspace(.5, .95, 10)): index 8 is not the literal 0.9.
        Assert.Equal([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95], iou);
        var rec = NumpyCompat.Linspace(0, 1, 101);
        Assert.Equal(0.35000000000000003, rec[35]);
        Assert.Equal(0.41000000000000003, rec[41]);
        Assert.Equal(0.9400000000000001, rec[94]);
        Assert.Equal(1.0, rec[100]);
    }

    [Theory]
    [InlineData(0.0625, 3, "0.062")]
    [InlineData(0.0635, 3, "0.064")]
    [InlineData(0.0005, 3, "0.001")]
    [InlineData(2.675, 2, "2.67")]
    [InlineData(-1.0, 3, "-1.000")]
    [InlineData(0.9995, 3, "1.000")]
    [InlineData(1.0 / 3, 3, "0.333")]
    [InlineData(0.95, 2, "0.95")]
    [InlineData(0.0, 3, "0.000")]
    public void FormatFixed_matches_python_format(double value, int digits, string expected)
    {
        Assert.Equal(expected, NumpyCompat.FormatFixed(value, digits));
    }

    [Fact]
    public void PairwiseSum_differs_from_a_naive_loop_like_numpy_does()
    {
        // Summing 0.1 a thousand times: numpy's np.sum gives 100.00000000000001 (pairwise), a naive loop
        // 99.9999999999986.
        var a = Enumerable.Repeat(0.1, 1000).ToArray();
        Assert.Equal(100.00000000000001, NumpyCompat.PairwiseSum(a));
        var naive = 0.0;
        foreach (var v in a)
        {
            naive += v;
        }
        Assert.NotEqual(naive, NumpyCompat.PairwiseSum(a));
    }

    [Fact]
    public void PairwiseSum_works_in_8192_element_buffers_like_numpy()
    {
        // np.sum of [sqrt(i % 997) / (1 + i % 13) for i in range(30011)] with numpy 1.24; one pairwise tree over all
        // elements would give 154069.96038127685.
        var a = Enumerable.Range(0, 30011).Select(i => Math.Sqrt(i % 997) / (1 + (i % 13))).ToArray();
        Assert.Equal(154069.96038127682, NumpyCompat.PairwiseSum(a));
    }
}
