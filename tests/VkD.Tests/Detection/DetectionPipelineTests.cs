using System.Text.Json;
using TorchSharp;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Tests.Infrastructure;

namespace VkD.Tests.Detection;

public sealed class DetectionPipelineTests
{
    private static string FixtureDir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "detection");

    private static DetectionImage Blank(int width, int height, byte value = 0)
    {
        var rgba = new byte[width * height * 4];
        Array.Fill(rgba, value);
        return new DetectionImage(width, height, rgba);
    }

    private static T[] Values<T>(torch.Tensor t)
        where T : unmanaged => t.numel() == 0 ? [] : t.data<T>().ToArray();

    [Fact]
    public void Resized_size_matches_vidt_get_size_with_aspect_ratio()
    {
        var rows = JsonSerializer.Deserialize<int[][]>(File.ReadAllText(Path.Combine(FixtureDir, "vidt_resize_sizes.json")))!;
        Assert.True(rows.Length > 300);
        foreach (var r in rows)
        {
            var expected = (r[4], r[5]);
            Assert.Equal(expected, DetectionTransforms.ResizedSize(r[0], r[1], r[2], r[3] < 0 ? null : r[3]));
        }
    }

    [Fact]
    public void Resized_size_hand_cases()
    {
        // 640x480 to 800: 800 x int(800*640/480)=1066 -> 1056.
        Assert.Equal((800, 1056), DetectionTransforms.ResizedSize(640, 480, 800, 1333));
        // Very wide image: the max side caps the short side to round(1333*200/1000) = 267 -> 256 x 1333 -> 1328.
        Assert.Equal((256, 1328), DetectionTransforms.ResizedSize(1000, 200, 800, 1333));
        // Shortest side already equal: only the rounding down to 16 changes it.
        Assert.Equal((480, 640), DetectionTransforms.ResizedSize(650, 490, 490, null));
    }

    [Fact]
    public void Box_arithmetic_is_bit_exact_with_vidt_in_torch_float32()
    {
        using var f = Fixture.Load("detection", "box_pipeline");
        for (var c = 0; c < 12; c++)
        {
            var p = Values<long>(f[$"c{c}_params"]);
            int w = (int)p[0], h = (int)p[1], size = (int)p[2];
            int? maxSize = p[3] < 0 ? null : (int)p[3];
            var xywh = Values<double>(f[$"c{c}_xywh"]);
            var area = Values<double>(f[$"c{c}_area"]);
            var anns = Enumerable.Range(0, area.Length)
                .Select(i => new CocoAnnotation(i + 1, 7, 1, new BoxXywh(xywh[i * 4], xywh[(i * 4) + 1], xywh[(i * 4) + 2], xywh[(i * 4) + 3]), area[i], false))
                .ToList();

            var target = CocoTargetConverter.Convert(7, anns, w, h);
            Assert.Equal(Values<float>(f[$"c{c}_converted"]), target.Boxes);
            var image = Blank(w, h);
            (image, target) = DetectionTransforms.HorizontalFlip(image, target);
            Assert.Equal(Values<float>(f[$"c{c}_flipped"]), target.Boxes);
            (image, target) = DetectionTransforms.Resize(image, target, size, maxSize);
            Assert.Equal(((int)p[4], (int)p[5]), (image.Height, image.Width));
            Assert.Equal(Values<float>(f[$"c{c}_resized"]), target.Boxes);
            (image, target) = DetectionTransforms.Crop(image, target, (int)p[6], (int)p[7], (int)p[8], (int)p[9]);
            Assert.Equal(Values<float>(f[$"c{c}_cropped"]), target.Boxes);
            Assert.Equal(Values<float>(f[$"c{c}_cropped_area"]), target.Area);
            var normalized = DetectionTransforms.NormalizeBoxes(target, image.Width, image.Height);
            Assert.Equal(Values<float>(f[$"c{c}_normalized"]), normalized.Boxes);
        }
    }

    [Fact]
    public void Converter_drops_crowds_and_degenerate_boxes_and_clamps()
    {
        var anns = new List<CocoAnnotation>
        {
            new(1, 1, 5, new BoxXywh(-10, 5, 30, 20), 100, false),   // clamped to x1 = 0
            new(2, 1, 6, new BoxXywh(10, 10, 20, 20), 100, true),    // crowd: dropped
            new(3, 1, 7, new BoxXywh(95, 10, 20, 20), 100, false),   // clamped to x2 = 100
            new(4, 1, 8, new BoxXywh(120, 10, 20, 20), 100, false),  // outside: zero width, dropped
            new(5, 1, 9, new BoxXywh(10, 10, 0, 20), 100, false),    // zero width, dropped
        };
        var t = CocoTargetConverter.Convert(1, anns, 100, 50);
        Assert.Equal([5L, 7L], t.Labels);
        Assert.Equal([0f, 5f, 20f, 25f, 95f, 10f, 100f, 30f], t.Boxes);
        Assert.Equal((50, 100), t.OrigSize);
    }

    [Fact]
    public void Flip_and_crop_move_pixels_with_the_boxes()
    {
        var rgba = new byte[4 * 3 * 4];
        for (var i = 0; i < 12; i++)
        {
            rgba[i * 4] = (byte)i; // red channel = pixel index
        }
        var image = new DetectionImage(4, 3, rgba);
        var flipped = image.FlipHorizontal();
        Assert.Equal(3, flipped.Rgba[0]);
        Assert.Equal(4 + 3, flipped.Rgba[4 * 4]);
        var crop = image.Crop(1, 2, 2, 2);
        Assert.Equal([6, 7, 10, 11], Enumerable.Range(0, 4).Select(i => (int)crop.Rgba[i * 4]));
    }

    [Fact]
    public void Example_normalises_pixels_like_to_tensor_and_normalize()
    {
        var image = Blank(20, 10, 200);
        var target = new DetectionTarget(3, [0, 0, 10, 5], [1], [50], [false], (10, 20), (10, 20));
        using var example = DetectionExample.Create(image, target);
        Assert.Equal(new long[] { 3, 10, 20 }, example.Image.shape);
        var expectedRed = ((200 / 255f) - 0.485f) / 0.229f;
        Assert.Equal(expectedRed, example.Image[0, 4, 7].item<float>());
        Assert.Equal([0.25f, 0.25f, 0.5f, 0.5f], example.Boxes.data<float>().ToArray());
        Assert.Equal(1L, example.Labels[0].item<long>());
    }

    [Fact]
    public void Batch_pads_to_the_largest_size_with_a_true_padding_mask()
    {
        using var a = torch.ones(3, 4, 6);
        using var b = torch.ones(3, 5, 2);
        var (images, mask) = DetectionCollate.Pad([a, b]);
        using (images)
        using (mask)
        {
            Assert.Equal(new long[] { 2, 3, 5, 6 }, images.shape);
            Assert.Equal(new long[] { 2, 5, 6 }, mask.shape);
            Assert.Equal(torch.ScalarType.Bool, mask.dtype);
            Assert.Equal(4 * 6 + 5 * 2, (int)(~mask).sum().item<long>());
            Assert.True(mask[0, 4, 0].item<bool>());
            Assert.False(mask[1, 4, 1].item<bool>());
            Assert.True(mask[1, 0, 2].item<bool>());
            Assert.Equal(0f, images[1, 0, 0, 3].item<float>());
            Assert.Equal(3 * ((4 * 6) + (5 * 2)), (int)images.sum().item<float>());
        }
    }

    [Fact]
    public void Voc_xml_reads_into_coco_form()
    {
        var dir = Path.Combine(FixtureDir, "voc");
        var classes = File.ReadAllLines(Path.Combine(dir, "class_names.txt")).Where(l => l.Length > 0).ToList();
        var gt = VocAnnotationReader.ReadToCoco(Directory.GetFiles(dir, "*.xml").Order(StringComparer.Ordinal), classes);
        Assert.Equal(3, gt.Images.Count);
        Assert.Equal("2011_000003.jpg", gt.Images[0].FileName);
        Assert.Equal((500, 338), (gt.Images[0].Width, gt.Images[0].Height));
        var person = gt.Annotations.First(a => a.ImageId == 1);
        Assert.Equal(classes.IndexOf("person"), person.CategoryId);
        Assert.Equal(new BoxXywh(91, 107, 149, 223), person.Bbox);
        Assert.Equal(149.0 * 223, person.Area);
        Assert.Equal(9, gt.Annotations.Count);
    }

    [Fact]
    public void Voc_with_unknown_class_names_the_file()
    {
        var dir = Path.Combine(FixtureDir, "voc");
        var e = Assert.Throws<InvalidDataException>(() => VocAnnotationReader.ReadToCoco([Path.Combine(dir, "2011_000006.xml")], ["cat"]));
        Assert.Contains("2011_000006.xml", e.Message);
        Assert.Contains("person", e.Message);
    }

    [Fact]
    public void Real_jpeg_goes_through_the_val_pipeline()
    {
        var gt = CocoDataset.Load(Path.Combine(FixtureDir, "labelme_annotations.json"));
        var dataset = new CocoDetectionDataset(gt, FixtureDir, VidtTransforms.Val());
        Assert.Equal(2L, dataset.ImageAt(2).Id);
        using var example = dataset.Get(2, seed: 0);
        // 500x375 -> shortest side 800: 800 x int(800*500/375) = 1066 -> 1056.
        Assert.Equal(new long[] { 3, 800, 1056 }, example.Image.shape);
        Assert.Equal((375, 500), example.Target.OrigSize);
        Assert.Equal(6, example.Target.Count);
        // First person: [92, 108, 151, 222] -> cx = (92 + 243) / 2 / 500 after the scale cancels (float32).
        var box = example.Boxes[0].data<float>().ToArray();
        Assert.Equal((92f + 243f) / 2 / 500, box[0], 5);
        Assert.Equal(222f / 375, box[3], 5);
        var mean = example.Image.mean().item<float>();
        Assert.InRange(mean, -1.5f, 1.5f);
    }

    [Fact]
    public void Train_pipeline_is_deterministic_per_seed_and_keeps_sizes_on_the_16_grid()
    {
        var gt = CocoDataset.Load(Path.Combine(FixtureDir, "labelme_annotations.json"));
        var dataset = new CocoDetectionDataset(gt, FixtureDir, VidtTransforms.Train(scales: [128, 144, 160], cropResize: [120, 140], cropMin: 96, cropMax: 128));
        var shapes = new HashSet<string>();
        for (var seed = 0; seed < 6; seed++)
        {
            using var a = dataset.Get(2, seed);
            using var b = dataset.Get(2, seed);
            Assert.True((a.Image == b.Image).all().item<bool>());
            Assert.True((a.Boxes == b.Boxes).all().item<bool>());
            Assert.Equal(0, a.Image.shape[1] % 16);
            Assert.Equal(0, a.Image.shape[2] % 16);
            Assert.InRange(Math.Min(a.Image.shape[1], a.Image.shape[2]), 112, 160);
            var boxes = a.Boxes.data<float>().ToArray();
            Assert.All(boxes, v => Assert.InRange(v, 0f, 1f));
            shapes.Add(string.Join('x', a.Image.shape));
        }
        Assert.True(shapes.Count > 1, "different seeds should give different scales");
        using var batch = dataset.GetBatch([2, 2], seed: 3);
        Assert.Equal(2, batch.Examples.Count);
        Assert.Equal(4, batch.Images.ndim);
    }
}
