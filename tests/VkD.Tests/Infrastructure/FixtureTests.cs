using TorchSharp;

namespace VkD.Tests.Infrastructure;

public class FixtureTests
{
    [Fact]
    public void A_PyTorch_saved_dict_of_tensors_reads_back_with_values_and_dtypes()
    {
        using var f = Fixture.Load("smoke", "roundtrip");
        Assert.Equal(new long[] { 2, 3 }, f["a"].shape);
        Assert.Equal(5f, f["a"][1, 2].item<float>());
        Assert.Equal(torch.int64, f["b"].dtype);
        Assert.Equal(3L, f["b"][2].item<long>());
        Assert.Equal(torch.float64, f["c"].dtype);
        Assert.Equal(2.5, f["c"].item<double>());
    }

    [Fact]
    public void A_missing_fixture_names_the_generator()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => Fixture.Load("smoke", "no-such-fixture"));
        Assert.Contains("tools/fixtures", ex.Message);
    }
}
