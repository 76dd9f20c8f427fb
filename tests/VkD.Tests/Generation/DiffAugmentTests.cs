using VkD.Generation.Augmentation;
using VkD.Tests.Distillation;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Generation;

/// <summary>DiffAugment (colour, translation, cutout) against DiffAugment_pytorch.py restated with the same draws
/// (the fixture script checks that those draws reproduce the reference's own), even and odd image sides.</summary>
public sealed class DiffAugmentTests
{
    private static DiffAugmentDraw DrawOf(Fixture f, string name) => new()
    {
        Brightness = f[$"{name}.draw.brightness"],
        Saturation = f[$"{name}.draw.saturation"],
        Contrast = f[$"{name}.draw.contrast"],
        TranslationX = f[$"{name}.draw.translation_x"],
        TranslationY = f[$"{name}.draw.translation_y"],
        CutoutX = f[$"{name}.draw.cutout_x"],
        CutoutY = f[$"{name}.draw.cutout_y"],
    };

    [Theory]
    [InlineData("even")]
    [InlineData("odd")]
    public void DiffAugment_with_a_fixed_draw_matches_the_reference_and_its_gradient(string name)
    {
        using var f = Fixture.Load("generation", "diffaugment");
        var draw = DrawOf(f, name);
        using var scope = NewDisposeScope();
        var all = new DiffAugmenter(DiffAugmentPolicy.Parse("color,translation,cutout"));
        var x = f[$"{name}.x"].clone().requires_grad_(true);
        var y = all.Apply(x, draw);
        (y * f[$"{name}.upstream"]).sum().backward();
        Parity.Close(y, f[$"{name}.y"], 1e-5, "color,translation,cutout");
        Parity.Close(x.grad!, f[$"{name}.grad_x"], 1e-5, "d/dx");
        foreach (var single in new[] { "color", "translation", "cutout" })
        {
            var one = new DiffAugmenter(DiffAugmentPolicy.Parse(single));
            Parity.Close(one.Apply(f[$"{name}.x"], draw), f[$"{name}.{single}.y"], 1e-5, single);
        }
    }

    [Fact]
    public void Draws_stay_in_the_reference_ranges_and_a_seeded_generator_repeats_them()
    {
        var policy = DiffAugmentPolicy.Parse("color,translation,cutout");
        using var scope = NewDisposeScope();
        using var g1 = new Generator(7);
        using var g2 = new Generator(7);
        var a = DiffAugmentDraw.Sample(policy, 256, 32, 32, g1);
        var b = DiffAugmentDraw.Sample(policy, 256, 32, 32, g2);
        Assert.True(a.TranslationX!.eq(b.TranslationX!).all().item<bool>());
        Assert.Equal(-4, a.TranslationX!.min().item<long>());
        Assert.Equal(4, a.TranslationY!.max().item<long>());
        Assert.InRange(a.CutoutX!.max().item<long>(), 30, 32);
        Assert.Equal(0, a.CutoutY!.min().item<long>());
        Assert.InRange(a.Brightness!.max().item<float>(), 0.9f, 1.0f);
        Assert.Equal("translation,cutout", DiffAugmentPolicy.TranslationCutout.ToString());
    }

    [Fact]
    public void A_draw_missing_what_the_policy_needs_or_for_another_batch_is_refused()
    {
        using var scope = NewDisposeScope();
        var aug = new DiffAugmenter(DiffAugmentPolicy.TranslationCutout);
        var x = randn(4, 3, 8, 8);
        var e = Assert.Throws<ArgumentException>(() => aug.Apply(x, new DiffAugmentDraw { TranslationX = zeros(4, 1, 1, dtype: ScalarType.Int64) }));
        Assert.Contains("translation y", e.Message);
        using var other = DiffAugmentDraw.Sample(DiffAugmentPolicy.TranslationCutout, 2, 8, 8);
        var e2 = Assert.Throws<ArgumentException>(() => aug.Apply(x, other));
        Assert.Contains("2 images", e2.Message);
        Assert.Throws<ArgumentException>(() => DiffAugmentPolicy.Parse("translation,flip"));
        Assert.Empty(DiffAugmentPolicy.Parse("none").Ops);
    }
}
