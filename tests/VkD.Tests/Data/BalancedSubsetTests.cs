using VkD.Data.Datasets;

namespace VkD.Tests.Data;

public sealed class BalancedSubsetTests
{
    /// <summary>Labels sorted as an image folder lists them: all of class 0, then class 1, ...</summary>
    private static ArrayImageDataset Sorted(params int[] perClass)
    {
        var labels = perClass.SelectMany((n, k) => Enumerable.Repeat(k, n)).ToArray();
        var names = perClass.Select((_, k) => $"c{k}").ToArray();
        return new ArrayImageDataset(new byte[labels.Length * 4], labels, 2, 2, 1, names, "sorted");
    }

    private static int[] Counts(IImageDataset d, int classes) =>
        Enumerable.Range(0, classes).Select(k => Enumerable.Range(0, d.Count).Count(i => d.GetLabel(i) == k)).ToArray();

    [Fact]
    public void Every_class_gets_its_share_instead_of_the_first_files()
    {
        var full = Sorted(10, 10, 10, 10);
        var subset = BalancedSubset.Draw(full, 8, seed: 3);
        Assert.Equal(8, subset.Count);
        Assert.Equal([2, 2, 2, 2], Counts(subset, 4));
        var uneven = BalancedSubset.Draw(full, 10, seed: 3);
        Assert.Equal([3, 3, 2, 2], Counts(uneven, 4));
        // The kept images keep the dataset's order.
        Assert.Equal(subset.InnerIndices.Order(), subset.InnerIndices);
    }

    [Fact]
    public void A_small_class_gives_what_it_has_and_the_others_fill_the_rest()
    {
        var subset = BalancedSubset.Draw(Sorted(1, 20, 20), 9, seed: 0);
        Assert.Equal([1, 4, 4], Counts(subset, 3));
        Assert.Equal(41, BalancedSubset.Draw(Sorted(1, 20, 20), 100, seed: 0).Count);
    }

    [Fact]
    public void The_draw_is_seeded()
    {
        var full = Sorted(50, 50);
        Assert.Equal(BalancedSubset.Draw(full, 10, seed: 1).InnerIndices, BalancedSubset.Draw(full, 10, seed: 1).InnerIndices);
        Assert.NotEqual(BalancedSubset.Draw(full, 10, seed: 1).InnerIndices, BalancedSubset.Draw(full, 10, seed: 2).InnerIndices);
        Assert.Throws<ArgumentOutOfRangeException>(() => BalancedSubset.Draw(full, 10, seed: 1).GetLabel(10));
    }
}
