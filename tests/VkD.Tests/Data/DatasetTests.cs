using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;
using VkD.Data.Datasets;
using VkD.Data.Imaging;
using static VkD.Tests.Data.DataTestHelpers;

namespace VkD.Tests.Data;

/// <summary>Datasets built from files the tests write.</summary>
public class DatasetTests
{
    private static void MakeFolderSet(TempDir dir)
    {
        WriteImage(dir.Combine("train", "dog", "b.png"), Pattern(12, 10, 1));
        WriteImage(dir.Combine("train", "dog", "a.jpg"), Pattern(20, 16, 2), SKEncodedImageFormat.Jpeg);
        WriteImage(dir.Combine("train", "cat", "sub", "z.png"), Pattern(9, 9, 3));
        WriteGreyPng(dir.Combine("train", "cat", "grey.png"), Pattern(7, 5, 4, channels: 1));
        File.WriteAllText(dir.Combine("train", "cat", "notes.txt"), "not an image");
        WriteImage(dir.Combine("val", "dog", "v.png"), Pattern(8, 8, 5));
    }

    [Fact]
    public void Image_folder_sorts_classes_and_files_and_decodes_lazily()
    {
        using var dir = new TempDir();
        MakeFolderSet(dir);
        var train = ImageFolderDataset.OpenSplit(dir.Path, DataSplit.Train);
        Assert.Equal(new[] { "cat", "dog" }, train.ClassNames);
        Assert.Equal(4, train.Count);
        Assert.Equal(new[] { "grey.png", "z.png", "a.jpg", "b.png" }, Enumerable.Range(0, 4).Select(i => Path.GetFileName(train.GetPath(i))));
        Assert.Equal(new[] { 0, 0, 1, 1 }, Enumerable.Range(0, 4).Select(train.GetLabel));
        var grey = train.LoadImage(0);
        Assert.Equal((7, 5, 3), (grey.Width, grey.Height, grey.Channels));
        var src = Pattern(7, 5, 4, channels: 1);
        Assert.Equal(src[2, 3], grey[2, 3, 0]);
        Assert.Equal(src[2, 3], grey[2, 3, 2]);
        Assert.Equal(Pattern(12, 10, 1).Data, train.LoadImage(3).Data);
        var val = ImageFolderDataset.OpenSplit(dir.Path, DataSplit.Val);
        Assert.Equal(train.ClassNames, val.ClassNames);
        Assert.Equal(1, val.GetLabel(0));
    }

    [Fact]
    public void Image_folder_errors_are_specific()
    {
        using var dir = new TempDir();
        MakeFolderSet(dir);
        Directory.CreateDirectory(dir.Combine("val", "bird"));
        WriteImage(dir.Combine("val", "bird", "x.png"), Pattern(4, 4));
        var unknown = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.OpenSplit(dir.Path, DataSplit.Val));
        Assert.Contains("bird", unknown.Message);

        Directory.CreateDirectory(dir.Combine("train", "empty"));
        var empty = Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(dir.Combine("train")));
        Assert.Contains("empty", empty.Message);

        Directory.CreateDirectory(dir.Combine("none"));
        var none = Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(dir.Combine("none")));
        Assert.Contains("no class sub-folders", none.Message);

        Assert.Throws<DirectoryNotFoundException>(() => ImageFolderDataset.OpenSplit(dir.Combine("missing"), DataSplit.Train));
    }

    [Fact]
    public void Truncated_or_corrupt_images_fail_with_the_file_named()
    {
        using var dir = new TempDir();
        var good = dir.Combine("good.jpg");
        WriteImage(good, Pattern(64, 48), SKEncodedImageFormat.Jpeg);
        var bytes = File.ReadAllBytes(good);
        var truncated = dir.Combine("truncated.jpg");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var garbage = dir.Combine("garbage.png");
        File.WriteAllBytes(garbage, [1, 2, 3, 4, 5, 6, 7, 8]);
        var e1 = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeFile(truncated));
        Assert.Equal(truncated, e1.Path);
        Assert.Contains("truncated.jpg", e1.Message);
        var e2 = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeFile(garbage));
        Assert.Contains("garbage.png", e2.Message);
        Assert.Equal(64, ImageDecoder.DecodeFile(good).Width);
    }

    [Fact]
    public void Webp_and_png_decode_exactly()
    {
        using var dir = new TempDir();
        var img = Pattern(17, 11, 9);
        WriteImage(dir.Combine("a.webp"), img, SKEncodedImageFormat.Webp, 100);
        WriteImage(dir.Combine("a.png"), img);
        Assert.Equal(img.Data, ImageDecoder.DecodeFile(dir.Combine("a.png")).Data);
        var webp = ImageDecoder.DecodeFile(dir.Combine("a.webp"));
        Assert.Equal((17, 11, 3), (webp.Width, webp.Height, webp.Channels));
        Assert.True(MaxDiff(img, webp) <= 8, $"lossless-quality WebP differs by {MaxDiff(img, webp)}");
    }

    [Fact]
    public void Exif_origins_turn_images_upright()
    {
        var img = new ImageU8(3, 2, 1, [1, 2, 3, 4, 5, 6]);
        // Orientation 6 (RightTop): the stored image must be rotated 90 degrees clockwise.
        var r = ImageDecoder.Orient(img, SKEncodedOrigin.RightTop);
        Assert.Equal((2, 3), (r.Width, r.Height));
        Assert.Equal(new byte[] { 4, 1, 5, 2, 6, 3 }, r.Data);
        Assert.Equal(new byte[] { 3, 2, 1, 6, 5, 4 }, ImageDecoder.Orient(img, SKEncodedOrigin.TopRight).Data);
        Assert.Equal(new byte[] { 3, 6, 2, 5, 1, 4 }, ImageDecoder.Orient(img, SKEncodedOrigin.LeftBottom).Data);
    }

    private static byte[] IdxImages(int n, int rows, int cols, uint magic = 0x803)
    {
        var data = new byte[16 + n * rows * cols];
        BinaryPrimitives.WriteUInt32BigEndian(data, magic);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), n);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(12), cols);
        for (int i = 16; i < data.Length; i++)
        {
            data[i] = (byte)(i * 7);
        }
        return data;
    }

    private static byte[] IdxLabels(int n)
    {
        var data = new byte[8 + n];
        BinaryPrimitives.WriteUInt32BigEndian(data, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), n);
        for (int i = 0; i < n; i++)
        {
            data[8 + i] = (byte)(i % 10);
        }
        return data;
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest))
        {
            gz.Write(raw);
        }
        return ms.ToArray();
    }

    [Fact]
    public void Idx_folder_reads_gzip_and_raw_files()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.Combine("train-images-idx3-ubyte.gz"), Gzip(IdxImages(12, 4, 3)));
        File.WriteAllBytes(dir.Combine("train-labels-idx1-ubyte.gz"), Gzip(IdxLabels(12)));
        File.WriteAllBytes(dir.Combine("t10k-images-idx3-ubyte"), IdxImages(5, 4, 3));
        File.WriteAllBytes(dir.Combine("t10k-labels-idx1-ubyte"), IdxLabels(5));
        var train = IdxDataset.OpenFolder(dir.Path, DataSplit.Train, IdxDataset.FashionMnistClasses);
        Assert.Equal(12, train.Count);
        Assert.Equal("Ankle boot", train.ClassNames[9]);
        Assert.Equal(11 % 10, train.GetLabel(11));
        var img = train.LoadImage(2);
        Assert.Equal((3, 4, 1), (img.Width, img.Height, img.Channels));
        // Image 2 starts at byte 16 + 2 * 12; pixel (row 1, col 2) is 5 bytes further.
        Assert.Equal(unchecked((byte)((16 + 24 + 5) * 7)), img[1, 2]);
        Assert.Equal(5, IdxDataset.OpenFolder(dir.Path, DataSplit.Val).Count);
    }

    [Fact]
    public void Idx_wrong_magic_size_or_count_is_a_clear_error()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.Combine("img"), IdxImages(3, 2, 2, magic: 0x801));
        File.WriteAllBytes(dir.Combine("lab"), IdxLabels(3));
        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => IdxDataset.Load(dir.Combine("img"), dir.Combine("lab"))).Message);
        File.WriteAllBytes(dir.Combine("img"), IdxImages(3, 2, 2)[..^1]);
        Assert.Contains("declares 3 images", Assert.Throws<InvalidDataException>(() => IdxDataset.Load(dir.Combine("img"), dir.Combine("lab"))).Message);
        File.WriteAllBytes(dir.Combine("img"), IdxImages(3, 2, 2));
        File.WriteAllBytes(dir.Combine("lab"), IdxLabels(4));
        Assert.Contains("4 labels", Assert.Throws<InvalidDataException>(() => IdxDataset.Load(dir.Combine("img"), dir.Combine("lab"))).Message);
        Assert.Throws<FileNotFoundException>(() => IdxDataset.OpenFolder(dir.Path, DataSplit.Train));
    }

    [Fact]
    public void Digits_csv_scales_pixels_and_splits_every_fifth_row_to_val()
    {
        using var dir = new TempDir();
        var lines = Enumerable.Range(0, 10).Select(r =>
            string.Join(",", Enumerable.Range(0, 64).Select(k => k == 0 ? "16" : k == 1 ? "8" : k == 2 ? "1" : "0")) + "," + (r % 10));
        File.WriteAllBytes(dir.Combine("digits.csv.gz"), Gzip(System.Text.Encoding.ASCII.GetBytes(string.Join("\n", lines) + "\n")));
        var train = DigitsCsvDataset.Load(dir.Path, DataSplit.Train);
        var val = DigitsCsvDataset.Load(dir.Combine("digits.csv.gz"), DataSplit.Val);
        Assert.Equal(8, train.Count);
        Assert.Equal(new[] { 4, 9 }, Enumerable.Range(0, val.Count).Select(val.GetLabel));
        var img = train.LoadImage(0);
        Assert.Equal((8, 8, 1), (img.Width, img.Height, img.Channels));
        Assert.Equal(new byte[] { 255, 128, 16, 0 }, img.Data[..4]);
        File.WriteAllText(dir.Combine("bad.csv"), "1,2,3\n");
        Assert.Contains("65", Assert.Throws<InvalidDataException>(() => DigitsCsvDataset.Load(dir.Combine("bad.csv"), DataSplit.Train)).Message);
    }

    [Fact]
    public void OpenCv_digits_grid_labels_rows_and_splits_columns()
    {
        using var dir = new TempDir();
        var sheet = new ImageU8(2000, 1000, 1);
        for (int y = 0; y < 1000; y++)
        {
            for (int x = 0; x < 2000; x++)
            {
                // Each 20x20 cell holds (row * 7 + col) mod 256 plus its inner y.
                sheet.Data[y * 2000 + x] = (byte)((y / 20 * 7 + x / 20 + y % 20) % 256);
            }
        }
        WriteGreyPng(dir.Combine("digits.png"), sheet);
        var train = OpenCvDigitsDataset.Load(dir.Path, DataSplit.Train);
        var val = OpenCvDigitsDataset.Load(dir.Combine("digits.png"), DataSplit.Val);
        Assert.Equal(4500, train.Count);
        Assert.Equal(500, val.Count);
        Assert.All(Enumerable.Range(0, 10), k => Assert.Equal(50, Enumerable.Range(0, 500).Count(i => val.GetLabel(i) == k)));
        // Val image 0 is row 0, column 90; val image 17 is row 1, column 97 (label 0); val 250 is row 25, column 90 (label 5).
        Assert.Equal((byte)(90 + 3), val.LoadImage(0)[3, 5]);
        Assert.Equal((byte)(7 + 97 + 4), val.LoadImage(17)[4, 0]);
        Assert.Equal(5, val.GetLabel(250));
        Assert.Equal(20, train.LoadImage(0).Width);
        WriteGreyPng(dir.Combine("small.png"), new ImageU8(100, 50, 1));
        Assert.Contains("2000x1000", Assert.Throws<InvalidDataException>(() => OpenCvDigitsDataset.Load(dir.Combine("small.png"), DataSplit.Train)).Message);
    }

    [Fact]
    public void Dataset_spec_parses_kinds_paths_and_options()
    {
        var a = DatasetSpec.Parse("/data/imagenette");
        Assert.Equal((DatasetKind.ImageFolder, "/data/imagenette", false, (int?)null), (a.Kind, a.Path, a.ExpandToRgb, a.ResizeTo));
        var b = DatasetSpec.Parse("fashion-mnist:/x/y?rgb&size=32");
        Assert.Equal((DatasetKind.FashionMnist, "/x/y", true, (int?)32), (b.Kind, b.Path, b.ExpandToRgb, b.ResizeTo));
        Assert.Equal(3, b.Channels);
        Assert.Equal("fashion-mnist:/x/y?rgb&size=32", b.ToString());
        Assert.Equal(DatasetSpec.DebianFashionMnistPath, DatasetSpec.Parse("fashion-mnist").Path);
        Assert.Equal(DatasetKind.OpenCvDigits, DatasetSpec.Parse("opencv-digits:/d/digits.png").Kind);
        Assert.Equal(DatasetKind.ImageFolder, DatasetSpec.FromArgs("IMNET", "/imagenet").Kind);
        Assert.Equal(DatasetKind.Digits, DatasetSpec.FromArgs("digits", "/d.csv.gz").Kind);
        Assert.Throws<ArgumentException>(() => DatasetSpec.Parse("mnist:/x?colour"));
        Assert.Throws<ArgumentException>(() => DatasetSpec.Parse("digits"));
        Assert.Throws<ArgumentException>(() => DatasetSpec.FromArgs("CIFAR", "/x"));
    }

    [Fact]
    public void Dataset_view_expands_grey_and_resizes_at_load()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.Combine("train-images-idx3-ubyte"), IdxImages(4, 6, 6));
        File.WriteAllBytes(dir.Combine("train-labels-idx1-ubyte"), IdxLabels(4));
        var ds = DatasetSpec.Parse($"mnist:{dir.Path}?rgb&size=12").Open(DataSplit.Train);
        var img = ds.LoadImage(1);
        Assert.Equal((12, 12, 3), (img.Width, img.Height, img.Channels));
        var inner = IdxDataset.OpenFolder(dir.Path, DataSplit.Train).LoadImage(1);
        Assert.Equal(Resampler.Resize(inner, 12, 12).ToRgb().Data, img.Data);
    }

    [Fact]
    public void Debian_fashion_mnist_loads_when_installed()
    {
        var spec = DatasetSpec.Parse("fashion-mnist");
        if (!Directory.Exists(spec.Path))
        {
            return; // The package is optional on CI; the synthetic IDX tests above cover the reader.
        }
        var train = spec.Open(DataSplit.Train);
        var val = spec.Open(DataSplit.Val);
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, val.Count);
        Assert.Equal(1000, Enumerable.Range(0, val.Count).Count(i => val.GetLabel(i) == 3));
        Assert.Equal((28, 28, 1), (train.LoadImage(0).Width, train.LoadImage(0).Height, train.LoadImage(0).Channels));
    }
}
