using VkD.Data;
using VkD.Data.Imaging;
using VkD.Data.Transforms;
using static VkD.Tests.Data.DataTestHelpers;

namespace VkD.Tests.Data;

/// <summary>Per-image transforms against hand-computed cases.</summary>
public class TransformTests
{
    [Fact]
    public void RandomResizedCrop_falls_back_to_a_ratio_clamped_centre_crop()
    {
        // Area 4-5x the image never fits: 10 attempts fail, then the 10x6 image (ratio 1.67 > 4/3) gets h = 6,
        // w = round(6 * 4/3) = 8, centred: left = (10 - 8) / 2 = 1, top = 0.
        var rrc = new RandomResizedCrop(4, scaleMin: 4, scaleMax: 5);
        Assert.Equal((1, 0, 8, 6), rrc.SampleBox(10, 6, new DeterministicRandom(1)));
        // A tall 6x10 image (ratio 0.6 < 3/4): w = 6, h = round(6 / 0.75) = 8, top = 1.
        Assert.Equal((0, 1, 6, 8), rrc.SampleBox(6, 10, new DeterministicRandom(1)));
        // Within the ratio range the fallback is the whole image.
        Assert.Equal((0, 0, 8, 7), rrc.SampleBox(8, 7, new DeterministicRandom(1)));
    }

    [Fact]
    public void RandomResizedCrop_boxes_respect_scale_ratio_and_bounds()
    {
        var rrc = new RandomResizedCrop(32);
        var rng = new DeterministicRandom(7);
        double minArea = 1, maxArea = 0;
        for (int i = 0; i < 2000; i++)
        {
            var (x, y, w, h) = rrc.SampleBox(500, 375, rng);
            Assert.InRange(x, 0, 500 - w);
            Assert.InRange(y, 0, 375 - h);
            double area = (double)w * h / (500 * 375);
            double ratio = (double)w / h;
            // Rounding w and h moves area and ratio by at most a pixel's worth.
            Assert.InRange(area, 0.08 * 0.97, 1.0);
            Assert.InRange(ratio, 0.75 * 0.97, 4.0 / 3.0 * 1.03);
            minArea = Math.Min(minArea, area);
            maxArea = Math.Max(maxArea, area);
        }
        Assert.True(minArea < 0.1 && maxArea > 0.9, $"area range {minArea}..{maxArea} does not cover [0.08, 1]");
    }

    [Fact]
    public void RandomResizedCrop_output_is_the_PIL_resize_of_the_sampled_box()
    {
        var img = Pattern(50, 40);
        var rrc = new RandomResizedCrop(16);
        var box = rrc.SampleBox(50, 40, new DeterministicRandom(3));
        var got = rrc.Apply(img.Clone(), new DeterministicRandom(3));
        var expected = Resampler.ResizeRegion(img, box.X, box.Y, box.Width, box.Height, 16, 16, Interpolation.Bicubic);
        Assert.Equal(expected.Data, got.Data);
    }

    [Fact]
    public void Resize_shorter_side_uses_torchvision_rounding()
    {
        Assert.Equal((34, 27), Resize.ShorterSideSize(53, 41, 27));
        Assert.Equal((256, 341), Resize.ShorterSideSize(375, 500, 256));
        Assert.Equal((292, 256), Resize.ShorterSideSize(500, 438, 256));
    }

    [Fact]
    public void CenterCrop_rounds_half_offsets_to_even_and_pads_small_images()
    {
        var img = Pattern(10, 7);
        var got = new CenterCrop(4).Apply(img, new DeterministicRandom(0));
        // left = round(3) = 3, top = round(1.5) = 2.
        Assert.Equal(Resampler.Crop(img, 3, 2, 4, 4).Data, got.Data);
        var small = Pattern(3, 3);
        var padded = new CenterCrop(5).Apply(small, new DeterministicRandom(0));
        Assert.Equal(5, padded.Width);
        Assert.Equal(0, padded[0, 0, 0]);
        Assert.Equal(small[0, 0, 1], padded[1, 1, 1]);
        Assert.Equal(small[2, 2, 2], padded[3, 3, 2]);
    }

    [Fact]
    public void Flip_mirrors_rows_and_probability_zero_or_one_is_respected()
    {
        var img = Pattern(5, 2);
        var flipped = new RandomHorizontalFlip(1.0).Apply(img.Clone(), new DeterministicRandom(0));
        for (int x = 0; x < 5; x++)
        {
            Assert.Equal(img[1, x, 2], flipped[1, 4 - x, 2]);
        }
        Assert.Equal(img.Data, new RandomHorizontalFlip(0.0).Apply(img.Clone(), new DeterministicRandom(0)).Data);
    }

    [Fact]
    public void RandomCropWithPadding_is_a_window_of_the_zero_padded_image_at_every_offset()
    {
        var img = Pattern(8, 8, channels: 1);
        var padded = ImagePadding.Pad(img, 4, 4, 4, 4, PaddingMode.Constant);
        var crop = new RandomCropWithPadding(8, 4);
        var seen = new HashSet<(int, int)>();
        for (int s = 0; s < 400; s++)
        {
            var got = crop.Apply(img.Clone(), new DeterministicRandom((ulong)s));
            var match = Enumerable.Range(0, 9).SelectMany(t => Enumerable.Range(0, 9).Select(l => (t, l)))
                .Where(p => Resampler.Crop(padded, p.l, p.t, 8, 8).Data.SequenceEqual(got.Data)).ToList();
            Assert.NotEmpty(match);
            seen.Add(match[0]);
        }
        Assert.Equal(81, seen.Count);
    }

    [Fact]
    public void Reflect_padding_mirrors_without_repeating_the_edge()
    {
        var img = new ImageU8(3, 1, 1, [10, 20, 30]);
        var p = ImagePadding.Pad(img, 2, 0, 2, 0, PaddingMode.Reflect);
        Assert.Equal(new byte[] { 30, 20, 10, 20, 30, 20, 10 }, p.Data);
    }

    [Fact]
    public void Normalization_is_torchvision_totensor_then_normalize()
    {
        var img = new ImageU8(1, 1, 3, [0, 128, 255]);
        var dst = new float[3];
        Normalization.ImageNet.Apply(img, dst);
        Assert.Equal((0f / 255f - 0.485f) / 0.229f, dst[0]);
        Assert.Equal((128f / 255f - 0.456f) / 0.224f, dst[1]);
        Assert.Equal((255f / 255f - 0.406f) / 0.225f, dst[2]);
        Assert.Equal(new byte[] { 124, 116, 104 }, Normalization.ImageNet.MeanBytes);
    }

    [Fact]
    public void ThreeAugment_picks_each_of_grey_solarize_and_blur()
    {
        var img = Pattern(12, 10);
        var grey = img.ToGrey().ToRgb();
        var solar = img.Clone();
        PixelOps.Solarize(solar, 128);
        int g = 0, s = 0, b = 0;
        for (int seed = 0; seed < 60; seed++)
        {
            var got = new ThreeAugment().Apply(img.Clone(), new DeterministicRandom((ulong)seed));
            if (got.Data.SequenceEqual(grey.Data))
            {
                g++;
            }
            else if (got.Data.SequenceEqual(solar.Data))
            {
                s++;
            }
            else
            {
                b++;
                // A blur keeps the mean (up to rounding) and reduces the variation between neighbours.
                Assert.InRange(got.Data.Average(v => v) - img.Data.Average(v => v), -2.0, 2.0);
            }
        }
        Assert.True(g > 8 && s > 8 && b > 8, $"grey {g}, solarize {s}, blur {b}");
    }

    [Fact]
    public void ColorJitter_with_zero_strength_is_identity_and_factors_stay_in_range()
    {
        var img = Pattern(9, 9);
        Assert.Equal(img.Data, new ColorJitter(0, 0, 0).Apply(img.Clone(), new DeterministicRandom(1)).Data);
        // Brightness only: each output pixel is trunc(factor * v) with one factor in [0.7, 1.3].
        var bright = new ColorJitter(0.3, 0, 0).Apply(img.Clone(), new DeterministicRandom(5));
        int i = Array.FindIndex(img.Data, v => v > 100);
        double factor = (bright.Data[i] + 0.5) / img.Data[i];
        Assert.InRange(factor, 0.69, 1.31);
    }

    [Fact]
    public void RandAugment_parses_timm_grammar()
    {
        var ra = new RandAugment("rand-m9-mstd0.5-inc1");
        Assert.Equal(9, ra.Magnitude);
        Assert.Equal(0.5, ra.MagnitudeStd);
        Assert.Equal(2, ra.NumLayers);
        Assert.Equal(15, ra.Ops.Count);
        Assert.Contains("PosterizeIncreasing", ra.Ops);
        Assert.Contains("Posterize", new RandAugment("rand-m7-n3").Ops);
        Assert.Equal(3, new RandAugment("rand-m7-n3").NumLayers);
        Assert.Throws<ArgumentException>(() => new RandAugment("rand-m9-q3"));
        Assert.Throws<ArgumentException>(() => new RandAugment("auto-m9"));
    }

    [Fact]
    public void RandAugment_ops_follow_timm_level_functions()
    {
        var ra = new RandAugment("rand-m9-mstd0.5-inc1", [124, 116, 104]);
        var img = Pattern(16, 12);
        var rng = new DeterministicRandom(0);
        // PosterizeIncreasing: bits = 4 - int(m / 10 * 4): m = 10 keeps 0 bits, m = 0 keeps 4.
        Assert.All(ra.ApplyAtMagnitude("PosterizeIncreasing", img.Clone(), 10, rng).Data, v => Assert.Equal(0, v));
        Assert.Equal(img.Data.Select(v => (byte)(v & 0xF0)), ra.ApplyAtMagnitude("PosterizeIncreasing", img.Clone(), 0, rng).Data);
        // SolarizeIncreasing: threshold 256 - int(m / 10 * 256): m = 0 is identity, m = 10 inverts everything.
        Assert.Equal(img.Data, ra.ApplyAtMagnitude("SolarizeIncreasing", img.Clone(), 0, rng).Data);
        Assert.Equal(img.Data.Select(v => (byte)(255 - v)), ra.ApplyAtMagnitude("SolarizeIncreasing", img.Clone(), 10, rng).Data);
        // SolarizeAdd: add min(128, int(m / 10 * 110)) below 128.
        Assert.Equal(img.Data.Select(v => (byte)(v < 128 ? Math.Min(255, v + 55) : v)), ra.ApplyAtMagnitude("SolarizeAdd", img.Clone(), 5, rng).Data);
        // Rotate by 0 degrees samples pixel centres exactly.
        Assert.Equal(img.Data, ra.ApplyAtMagnitude("Rotate", img.Clone(), 0, rng).Data);
        // TranslateXRel at m = 10 moves by 0.45 * 16 = 7.2 px: 7 whole columns on one side are the fill colour.
        var moved = ra.ApplyAtMagnitude("TranslateXRel", img.Clone(), 10, rng);
        bool leftFilled = Enumerable.Range(0, 7).All(x => moved[5, x, 0] == 124 && moved[5, x, 1] == 116 && moved[5, x, 2] == 104);
        bool rightFilled = Enumerable.Range(9, 7).All(x => moved[5, x, 0] == 124 && moved[5, x, 1] == 116 && moved[5, x, 2] == 104);
        Assert.True(leftFilled ^ rightFilled);
    }

    [Fact]
    public void RandomErasing_fills_one_box_within_timm_area_and_aspect_limits()
    {
        const int c = 3, h = 40, w = 50;
        for (int seed = 0; seed < 50; seed++)
        {
            var data = Enumerable.Repeat(7f, c * h * w).ToArray();
            new RandomErasing(1.0, ErasingMode.Const).Apply(data, c, h, w, new DeterministicRandom((ulong)seed));
            var zeros = Enumerable.Range(0, h * w).Where(i => data[i] == 0f).ToList();
            Assert.NotEmpty(zeros);
            int y0 = zeros.Min(i => i / w), y1 = zeros.Max(i => i / w), x0 = zeros.Min(i => i % w), x1 = zeros.Max(i => i % w);
            int bh = y1 - y0 + 1, bw = x1 - x0 + 1;
            Assert.Equal(bh * bw, zeros.Count);
            Assert.InRange((double)bh * bw / (h * w), 0.015, 0.36);
            Assert.InRange((double)bh / bw, 0.25, 4.0);
            for (int ch = 1; ch < c; ch++)
            {
                Assert.Equal(0f, data[ch * h * w + y0 * w + x0]);
            }
        }
        var untouched = Enumerable.Repeat(7f, c * h * w).ToArray();
        new RandomErasing(0.0).Apply(untouched, c, h, w, new DeterministicRandom(1));
        Assert.All(untouched, v => Assert.Equal(7f, v));
    }

    [Fact]
    public void RandomErasing_pixel_mode_writes_standard_normal_noise()
    {
        const int c = 3, h = 64, w = 64;
        var values = new List<float>();
        for (int seed = 0; seed < 20; seed++)
        {
            var data = Enumerable.Repeat(100f, c * h * w).ToArray();
            new RandomErasing(1.0, ErasingMode.Pixel).Apply(data, c, h, w, new DeterministicRandom((ulong)seed));
            values.AddRange(data.Where(v => v != 100f));
        }
        double mean = values.Average(), std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(std, 0.95, 1.05);
    }

    [Fact]
    public void Train_pipeline_is_a_function_of_the_generator()
    {
        var img = Pattern(80, 60);
        var p = TransformPipelines.Train(TrainAugmentOptions.DeiT(48));
        using var a = p.RunToTensor(img.Clone(), new DeterministicRandom(11));
        using var b = p.RunToTensor(img.Clone(), new DeterministicRandom(11));
        using var c = p.RunToTensor(img.Clone(), new DeterministicRandom(12));
        Assert.Equal(new long[] { 3, 48, 48 }, a.shape);
        Assert.True(a.allclose(b, 0, 0));
        Assert.False(a.allclose(c, 0, 0));
        var three = TransformPipelines.Train(TrainAugmentOptions.VkDThreeAugment(48));
        Assert.Contains(three.ImageTransforms, t => t is ThreeAugment);
        Assert.Contains(three.ImageTransforms, t => t is ColorJitter);
        Assert.Empty(three.TensorTransforms);
        Assert.DoesNotContain(p.ImageTransforms, t => t is ColorJitter);
    }

    [Fact]
    public void Small_inputs_use_padded_random_crop_and_grey_normalisation()
    {
        var p = TransformPipelines.Train(new TrainAugmentOptions { InputSize = 28, Normalization = Normalization.Grey(0.286, 0.353) });
        Assert.IsType<RandomCropWithPadding>(p.ImageTransforms[0]);
        using var t = p.RunToTensor(Pattern(28, 28, channels: 1), new DeterministicRandom(2));
        Assert.Equal(new long[] { 1, 28, 28 }, t.shape);
        var eval = TransformPipelines.Eval(28, normalization: Normalization.Grey(0.286, 0.353));
        var img = Pattern(28, 28, channels: 1);
        using var e = eval.RunToTensor(img.Clone(), new DeterministicRandom(0));
        Assert.Equal((img[3, 4] / 255f - 0.286f) / 0.353f, e[0, 3, 4].item<float>());
    }

    [Fact]
    public void Pipeline_rejects_a_wrong_output_size()
    {
        var p = new TransformPipeline([new Resize(20)], Normalization.ImageNet, [], 16, 16);
        var e = Assert.Throws<InvalidOperationException>(() => p.RunToTensor(Pattern(30, 20), new DeterministicRandom(0)));
        Assert.Contains("30x20", e.Message);
    }
}
