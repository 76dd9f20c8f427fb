using VkD.Data;
using VkD.Data.Imaging;
using VkD.Data.Transforms;
using VkD.Tests.Infrastructure;
using static VkD.Tests.Data.DataTestHelpers;

namespace VkD.Tests.Data;

/// <summary>Resizing, pixel ops and the eval pipeline against PIL / torchvision outputs (tools/fixtures/make_data_fixtures.py).</summary>
public class PilParityTests
{
    [Theory]
    [InlineData("down", 17, 13)]
    [InlineData("up", 97, 80)]
    [InlineData("mixed", 30, 60)]
    [InlineData("samew", 53, 20)]
    public void Resize_matches_PIL_bit_for_bit(string name, int w, int h)
    {
        using var f = Fixture.Load("data", "resize");
        var rgb = ToImage(f["rgb"]);
        var grey = ToImage(f["grey"]);
        Assert.Equal(0, MaxDiff(ToImage(f[$"bicubic_{name}"]), Resampler.Resize(rgb, w, h, Interpolation.Bicubic)));
        Assert.Equal(0, MaxDiff(ToImage(f[$"bilinear_{name}"]), Resampler.Resize(rgb, w, h, Interpolation.Bilinear)));
        Assert.Equal(0, MaxDiff(ToImage(f[$"nearest_{name}"]), Resampler.Resize(rgb, w, h, Interpolation.Nearest)));
        Assert.Equal(0, MaxDiff(ToImage(f[$"grey_bicubic_{name}"]), Resampler.Resize(grey, w, h, Interpolation.Bicubic)));
    }

    [Fact]
    public void Resized_crop_matches_torchvision_on_PIL()
    {
        using var f = Fixture.Load("data", "resize");
        var got = Resampler.ResizeRegion(ToImage(f["rgb"]), 7, 5, 30, 22, 16, 16, Interpolation.Bicubic);
        Assert.Equal(0, MaxDiff(ToImage(f["resized_crop"]), got));
    }

    [Fact]
    public void Eval_pipeline_matches_torchvision_resize_centercrop_totensor_normalize()
    {
        using var f = Fixture.Load("data", "resize");
        var pipeline = TransformPipelines.Eval(40);
        using var got = pipeline.RunToTensor(ToImage(f["rgb"]), new DeterministicRandom(0));
        var expected = f["eval40"];
        Assert.Equal(expected.shape, got.shape);
        Assert.True(got.allclose(expected, rtol: 0, atol: 1e-6), $"max diff {(got - expected).abs().max().item<float>()} got {got[0, 0, 0].item<float>()},{got[1, 0, 0].item<float>()},{got[0, 0, 1].item<float>()} expected {expected[0, 0, 0].item<float>()},{expected[1, 0, 0].item<float>()},{expected[0, 0, 1].item<float>()}");
    }

    [Theory]
    [InlineData("autocontrast")]
    [InlineData("low_autocontrast")]
    [InlineData("equalize")]
    [InlineData("posterize2")]
    [InlineData("solarize100")]
    [InlineData("grayscale3")]
    [InlineData("brightness_0p35")]
    [InlineData("brightness_1p6")]
    [InlineData("contrast_0p35")]
    [InlineData("contrast_1p6")]
    [InlineData("color_0p35")]
    [InlineData("color_1p6")]
    [InlineData("sharpness_0p35")]
    [InlineData("sharpness_1p6")]
    [InlineData("smooth")]
    [InlineData("blur0p7")]
    [InlineData("blur1p9")]
    [InlineData("rotate17_bicubic")]
    [InlineData("rotate_m25_bilinear")]
    [InlineData("shearx_bicubic")]
    [InlineData("sheary_bilinear")]
    [InlineData("translatex_bicubic")]
    public void Pixel_op_matches_PIL(string name)
    {
        using var f = Fixture.Load("data", "ops");
        var src = ToImage(name.StartsWith("low_", StringComparison.Ordinal) ? f["low"] : f["rgb"]);
        byte[] fill = [124, 116, 104];
        ImageU8 got = name switch
        {
            "autocontrast" or "low_autocontrast" => Do(src, PixelOps.AutoContrast),
            "equalize" => Do(src, PixelOps.Equalize),
            "posterize2" => Do(src, i => PixelOps.Posterize(i, 2)),
            "solarize100" => Do(src, i => PixelOps.Solarize(i, 100)),
            "grayscale3" => src.ToGrey().ToRgb(),
            "brightness_0p35" => Do(src, i => PixelOps.AdjustBrightness(i, 0.35)),
            "brightness_1p6" => Do(src, i => PixelOps.AdjustBrightness(i, 1.6)),
            "contrast_0p35" => Do(src, i => PixelOps.AdjustContrast(i, 0.35)),
            "contrast_1p6" => Do(src, i => PixelOps.AdjustContrast(i, 1.6)),
            "color_0p35" => Do(src, i => PixelOps.AdjustSaturation(i, 0.35)),
            "color_1p6" => Do(src, i => PixelOps.AdjustSaturation(i, 1.6)),
            "sharpness_0p35" => Do(src, i => PixelOps.AdjustSharpness(i, 0.35)),
            "sharpness_1p6" => Do(src, i => PixelOps.AdjustSharpness(i, 1.6)),
            "smooth" => PixelOps.Smooth(src),
            "blur0p7" => PixelOps.GaussianBlur(src, 0.7),
            "blur1p9" => PixelOps.GaussianBlur(src, 1.9),
            "rotate17_bicubic" => AffineWarp.Rotate(src, 17.0, Interpolation.Bicubic, fill),
            "rotate_m25_bilinear" => AffineWarp.Rotate(src, -25.0, Interpolation.Bilinear, fill),
            "shearx_bicubic" => AffineWarp.Apply(src, [1, 0.21, 0, 0, 1, 0], Interpolation.Bicubic, fill),
            "sheary_bilinear" => AffineWarp.Apply(src, [1, 0, 0, -0.17, 1, 0], Interpolation.Bilinear, fill),
            "translatex_bicubic" => AffineWarp.Apply(src, [1, 0, -0.3 * 23, 0, 1, 0], Interpolation.Bicubic, fill),
            _ => throw new ArgumentException(name),
        };
        Assert.Equal(0, MaxDiff(ToImage(f[name]), got));
    }

    [Fact]
    public void Jpeg_decode_is_within_two_levels_of_PIL()
    {
        using var f = Fixture.Load("data", "jpeg");
        var bytes = f["bytes"].data<byte>().ToArray();
        var got = ImageDecoder.Decode(bytes, "fixture.jpg");
        Assert.True(MaxDiff(ToImage(f["decoded"]), got) <= 2);
    }

    private static ImageU8 Do(ImageU8 src, Action<ImageU8> op)
    {
        var copy = src.Clone();
        op(copy);
        return copy;
    }
}
