using SkiaSharp;
using static TorchSharp.torch;

namespace VkD.OnnxDistillDemo;

/// <summary>An image-folder split (<c>root/class/*.png</c>) decoded once into a uint8 tensor [N, 3, S, S].</summary>
internal sealed class PhotoFolder : IDisposable
{
    private PhotoFolder(Tensor images, long[] labels, string[] classes, string[] files)
    {
        Images = images;
        Labels = labels;
        Classes = classes;
        Files = files;
    }

    public Tensor Images { get; }

    public long[] Labels { get; }

    public string[] Classes { get; }

    public string[] Files { get; }

    public int Count => Labels.Length;

    public static PhotoFolder Load(string root)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Photo folder '{root}' does not exist; run tools/onnx/make_tuxpaint_photos.py.");
        }
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        var files = new List<string>();
        var labels = new List<long>();
        for (var c = 0; c < classes.Length; c++)
        {
            foreach (var f in Directory.GetFiles(Path.Combine(root, classes[c]), "*.png").Order(StringComparer.Ordinal))
            {
                files.Add(f);
                labels.Add(c);
            }
        }
        using var first = SKBitmap.Decode(files[0]);
        var size = first.Width;
        var buffer = new byte[files.Count * 3L * size * size];
        Parallel.For(0, files.Count, i =>
        {
            using var raw = SKBitmap.Decode(files[i]) ?? throw new InvalidDataException($"Cannot decode '{files[i]}'.");
            using var bmp = raw.ColorType == SKColorType.Rgba8888 ? raw.Copy() : raw.Copy(SKColorType.Rgba8888);
            if (bmp.Width != size || bmp.Height != size)
            {
                throw new InvalidDataException($"'{files[i]}' is {bmp.Width}x{bmp.Height}; all images must be {size}x{size}.");
            }
            var px = bmp.GetPixelSpan();
            var plane = size * size;
            var offset = i * 3L * plane;
            for (var p = 0; p < plane; p++)
            {
                buffer[offset + p] = px[4 * p];
                buffer[offset + plane + p] = px[(4 * p) + 1];
                buffer[offset + (2 * plane) + p] = px[(4 * p) + 2];
            }
        });
        var images = tensor(buffer, [files.Count, 3, size, size], ScalarType.Byte);
        return new PhotoFolder(images, [.. labels], classes, [.. files]);
    }

    /// <summary>Images [idx] as float, resized to <paramref name="size"/> and ImageNet-normalised.</summary>
    public Tensor Normalised(Tensor index, int size)
    {
        using var scope = NewDisposeScope();
        var x = Images.index_select(0, index).to(ScalarType.Float32) / 255f;
        if (x.shape[2] != size)
        {
            x = nn.functional.interpolate(x, [size, size], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
        }
        var mean = tensor(new[] { 0.485f, 0.456f, 0.406f }).view(1, 3, 1, 1);
        var std = tensor(new[] { 0.229f, 0.224f, 0.225f }).view(1, 3, 1, 1);
        return ((x - mean) / std).MoveToOuterDisposeScope();
    }

    public void Dispose() => Images.Dispose();
}
