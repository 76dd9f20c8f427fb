using VkD.Data;
using VkD.Data.Mixing;
using static TorchSharp.torch;

namespace VkD.Tests.Data;

/// <summary>Mixup/CutMix with timm's batch-mode semantics.</summary>
public class MixupTests
{
    private static Tensor Images(int b, int h, int w) => arange(b * 3 * h * w, ScalarType.Float32).reshape(b, 3, h, w);

    [Fact]
    public void Mixup_blends_with_the_mirrored_sample_and_mixes_targets_by_lambda()
    {
        var mix = new MixupCutmix(new MixupOptions { CutmixAlpha = 0, LabelSmoothing = 0, NumClasses = 5 });
        using var x = Images(4, 3, 3);
        using var y = tensor(new long[] { 0, 1, 2, 3 });
        var (mixed, targets) = mix.Apply(x, y, new DeterministicRandom(4));
        using (mixed)
        using (targets)
        {
            double lam = targets[0, 0].item<float>();
            Assert.InRange(lam, 0.0, 1.0);
            Assert.Equal(1 - lam, targets[0, 3].item<float>(), 5);
            Assert.Equal(lam, targets[3, 3].item<float>(), 5);
            using var expected = x.mul(lam).add(x.flip(0).mul(1 - lam));
            Assert.True(mixed.allclose(expected, 1e-5, 1e-4));
            Assert.True(targets.sum(1).allclose(ones(4), 1e-6, 1e-6));
        }
    }

    [Fact]
    public void Cutmix_pastes_one_box_and_corrects_lambda_to_its_area()
    {
        var mix = new MixupCutmix(new MixupOptions { MixupAlpha = 0, LabelSmoothing = 0, NumClasses = 4 });
        for (ulong seed = 0; seed < 20; seed++)
        {
            using var scope = NewDisposeScope();
            var x = Images(2, 10, 12);
            var y = tensor(new long[] { 1, 2 });
            var (lam, useCutmix, box) = mix.Sample(10, 12, new DeterministicRandom(seed));
            var (mixed, targets) = mix.Apply(x, y, new DeterministicRandom(seed));
            if (!useCutmix)
            {
                continue;
            }
            var changed = mixed[0].ne(x[0]).any(0);
            int area = (box.Y1 - box.Y0) * (box.X1 - box.X0);
            Assert.Equal(area, changed.sum().item<long>());
            Assert.Equal(1.0 - area / 120.0, lam, 12);
            Assert.Equal(lam, targets[0, 1].item<float>(), 5);
            Assert.Equal(1 - lam, targets[0, 2].item<float>(), 5);
            if (area > 0)
            {
                Assert.True(mixed[0, .., box.Y0, box.X0].allclose(x[1, .., box.Y0, box.X0]));
            }
        }
    }

    [Fact]
    public void Label_smoothing_is_folded_into_the_targets()
    {
        var none = new MixupCutmix(new MixupOptions { Probability = 0, LabelSmoothing = 0.1, NumClasses = 10 });
        using var x = Images(2, 2, 2);
        using var y = tensor(new long[] { 3, 7 });
        var (mixed, targets) = none.Apply(x, y, new DeterministicRandom(0));
        using (mixed)
        using (targets)
        {
            Assert.True(mixed.allclose(x));
            Assert.Equal(1 - 0.1 + 0.01, targets[0, 3].item<float>(), 6);
            Assert.Equal(0.01, targets[0, 4].item<float>(), 6);
        }
    }

    [Fact]
    public void Switch_probability_splits_mixup_and_cutmix_and_odd_batches_are_rejected()
    {
        var mix = new MixupCutmix(new MixupOptions { NumClasses = 10 });
        var rng = new DeterministicRandom(1);
        int cut = Enumerable.Range(0, 1000).Count(_ => mix.Sample(32, 32, rng).UseCutmix);
        Assert.InRange(cut, 420, 580);
        using var x = Images(3, 2, 2);
        using var y = tensor(new long[] { 0, 1, 2 });
        Assert.Throws<ArgumentException>(() => mix.Apply(x, y, new DeterministicRandom(0)));
    }

    [Fact]
    public void Beta_sampler_has_the_right_mean_and_variance()
    {
        var rng = new DeterministicRandom(2);
        var draws = Enumerable.Range(0, 20000).Select(_ => rng.NextBeta(0.8, 0.8)).ToArray();
        double mean = draws.Average(), variance = draws.Average(v => (v - mean) * (v - mean));
        // Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)) = 0.0962 for a = 0.8.
        Assert.InRange(mean, 0.49, 0.51);
        Assert.InRange(variance, 0.092, 0.100);
    }

    [Fact]
    public void Batch_streams_are_reproducible_per_batch_and_distinct_across_batches()
    {
        var mix = new MixupCutmix(new MixupOptions { NumClasses = 10 });
        var a = mix.Sample(32, 32, MixupCutmix.BatchStream(5, 2, 7));
        var b = mix.Sample(32, 32, MixupCutmix.BatchStream(5, 2, 7));
        Assert.Equal(a, b);
        var lambdas = Enumerable.Range(0, 20).Select(k => mix.Sample(32, 32, MixupCutmix.BatchStream(5, 2, k)).Lambda).Distinct().Count();
        Assert.True(lambdas > 15);
    }
}
