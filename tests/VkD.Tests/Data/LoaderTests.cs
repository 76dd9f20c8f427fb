using SkiaSharp;
using VkD.Data;
using VkD.Data.Datasets;
using VkD.Data.Imaging;
using VkD.Data.Loading;
using VkD.Data.Transforms;
using static VkD.Tests.Data.DataTestHelpers;

namespace VkD.Tests.Data;

/// <summary>Loader determinism, resume, sampling, sharding and bad-input handling.</summary>
public class LoaderTests
{
    private static ArrayImageDataset Synthetic(int n, int size = 12)
    {
        var pixels = new byte[n * size * size * 3];
        new Random(5).NextBytes(pixels);
        var labels = Enumerable.Range(0, n).Select(i => i % 4).ToArray();
        return new ArrayImageDataset(pixels, labels, size, size, 3, ["a", "b", "c", "d"], "synthetic");
    }

    private static TransformPipeline Augmenting(int size = 8)
        => TransformPipelines.Train(new TrainAugmentOptions { InputSize = size, RandomErasingProbability = 0.5, AutoAugment = "rand-m9-mstd0.5-inc1" });

    private static List<(float[] Images, long[] Labels, int[] Indices)> Collect(BatchLoader loader, int epoch, int start = 0)
    {
        var list = new List<(float[], long[], int[])>();
        foreach (var b in loader.GetEpoch(epoch, start))
        {
            using (b)
            {
                list.Add((b.Images.data<float>().ToArray(), b.Labels.data<long>().ToArray(), b.Indices.ToArray()));
            }
        }
        return list;
    }

    private static void AssertSame(List<(float[] Images, long[] Labels, int[] Indices)> a, List<(float[] Images, long[] Labels, int[] Indices)> b)
    {
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Indices, b[i].Indices);
            Assert.Equal(a[i].Labels, b[i].Labels);
            Assert.Equal(a[i].Images, b[i].Images);
        }
    }

    [Fact]
    public void Batches_are_identical_whatever_the_worker_count()
    {
        var ds = Synthetic(37);
        var reference = Collect(new BatchLoader(ds, Augmenting(), 8, shuffle: true, seed: 3, numWorkers: 0), 2);
        AssertSame(reference, Collect(new BatchLoader(ds, Augmenting(), 8, shuffle: true, seed: 3, numWorkers: 1), 2));
        AssertSame(reference, Collect(new BatchLoader(ds, Augmenting(), 8, shuffle: true, seed: 3, numWorkers: 3, prefetchBatches: 1), 2));
        var other = Collect(new BatchLoader(ds, Augmenting(), 8, shuffle: true, seed: 4, numWorkers: 2), 2);
        Assert.NotEqual(reference[0].Images, other[0].Images);
    }

    [Fact]
    public void Starting_at_a_batch_gives_the_rest_of_the_uninterrupted_epoch()
    {
        var ds = Synthetic(37);
        var loader = new BatchLoader(ds, Augmenting(), 8, shuffle: true, seed: 9, numWorkers: 2);
        var full = Collect(loader, 1);
        AssertSame(full.Skip(3).ToList(), Collect(loader, 1, 3));
        Assert.Empty(Collect(loader, 1, loader.BatchesPerEpoch));
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.GetEpoch(1, loader.BatchesPerEpoch + 1));
    }

    [Fact]
    public void Each_epoch_is_a_new_permutation_and_drop_last_counts_batches()
    {
        var ds = Synthetic(37);
        var keep = new BatchLoader(ds, Augmenting(), 8, shuffle: true, dropLast: false, seed: 1);
        var drop = new BatchLoader(ds, Augmenting(), 8, shuffle: true, dropLast: true, seed: 1);
        Assert.Equal(5, keep.BatchesPerEpoch);
        Assert.Equal(4, drop.BatchesPerEpoch);
        var e0 = Collect(keep, 0);
        Assert.Equal(5, e0[^1].Indices.Length);
        Assert.Equal(Enumerable.Range(0, 37), e0.SelectMany(b => b.Indices).Order());
        Assert.Equal(Enumerable.Range(0, 37).Select(i => (long)(i % 4)), e0.SelectMany(b => b.Indices.Zip(b.Labels)).OrderBy(p => p.First).Select(p => p.Second));
        Assert.NotEqual(keep.EpochIndices(0), keep.EpochIndices(1));
        Assert.Equal(Enumerable.Range(0, 37), new BatchLoader(ds, Augmenting(), 8, shuffle: false).EpochIndices(5));
        Assert.All(Collect(drop, 0), b => Assert.Equal(8, b.Indices.Length));
    }

    [Fact]
    public void Batch_tensors_have_the_contract_shapes_and_types()
    {
        var loader = new BatchLoader(Synthetic(10), Augmenting(), 4, shuffle: false);
        using var b = loader.GetEpoch(0).First();
        Assert.Equal(new long[] { 4, 3, 8, 8 }, b.Images.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, b.Images.dtype);
        Assert.Equal(TorchSharp.torch.ScalarType.Int64, b.Labels.dtype);
        Assert.Equal(new[] { 0, 1, 2, 3 }, b.Indices);
        Assert.Equal(new long[] { 0, 1, 2, 3 }, b.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Each_sample_is_the_pipeline_run_with_the_seed_epoch_rank_position_stream()
    {
        var ds = Synthetic(11);
        var pipeline = Augmenting();
        var loader = new BatchLoader(ds, pipeline, 4, shuffle: true, seed: 21, numWorkers: 2, rank: 1, worldSize: 2);
        var batches = Collect(loader, 3);
        var order = loader.EpochIndices(3);
        int len = pipeline.SampleLength;
        for (int position = 0; position < order.Length; position++)
        {
            var expected = new float[len];
            pipeline.Run(ds.LoadImage(order[position]), DeterministicRandom.ForStream(21, 3, 1, position), expected);
            var batch = batches[position / 4];
            Assert.Equal(order[position], batch.Indices[position % 4]);
            Assert.Equal(expected, batch.Images.AsSpan((position % 4) * len, len).ToArray());
        }
    }

    [Fact]
    public void Distributed_shards_partition_a_padded_permutation()
    {
        var perm = EpochSampler.Indices(10, true, 7, 3, SamplerOptions.Default, 0, 1);
        var shards = Enumerable.Range(0, 3).Select(r => EpochSampler.Indices(10, true, 7, 3, SamplerOptions.Default, r, 3)).ToList();
        Assert.All(shards, s => Assert.Equal(4, s.Length));
        // torch's DistributedSampler: pad to 12 by repeating the head, then rank r takes positions r, r+3, ...
        var padded = perm.Concat(perm.Take(2)).ToArray();
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(Enumerable.Range(0, 4).Select(k => padded[r + 3 * k]), shards[r]);
        }
    }

    [Fact]
    public void Repeated_augmentation_sampler_matches_DeiT_RASampler_by_hand()
    {
        var ra = new SamplerOptions { RepeatedAugmentation = true, Repeats = 3, RoundTo = 2 };
        // 6 images, no shuffle: [0,0,0,1,1,1,...,5,5,5]; world 2 strides it; each rank keeps floor(6 // 2 * 2 / 2) = 3.
        Assert.Equal(new[] { 0, 0, 1 }, EpochSampler.Indices(6, false, 0, 0, ra, 0, 2));
        Assert.Equal(new[] { 0, 1, 1 }, EpochSampler.Indices(6, false, 0, 0, ra, 1, 2));
        // Shuffled: every index of the permutation appears three times in a row before the stride.
        var all = EpochSampler.Indices(512, true, 1, 0, SamplerOptions.DeiTRepeatedAugmentation, 0, 1);
        Assert.Equal(512, all.Length);
        for (int k = 0; k + 2 < 510; k += 3)
        {
            Assert.Equal(all[k], all[k + 1]);
            Assert.Equal(all[k], all[k + 2]);
        }
        var e = Assert.Throws<InvalidOperationException>(() => EpochSampler.Indices(100, true, 0, 0, SamplerOptions.DeiTRepeatedAugmentation, 0, 1));
        Assert.Contains("RoundTo", e.Message);
    }

    [Fact]
    public void Repeated_copies_of_an_image_get_different_augmentations()
    {
        var ds = Synthetic(8, 20);
        var ra = new SamplerOptions { RepeatedAugmentation = true, RoundTo = 4 };
        var loader = new BatchLoader(ds, Augmenting(16), 24, shuffle: false, sampler: ra);
        var batch = Collect(loader, 0).Single();
        Assert.Equal(new[] { 0, 0, 0, 1, 1, 1, 2, 2 }, batch.Indices);
        int len = 3 * 16 * 16;
        Assert.NotEqual(batch.Images[..len], batch.Images[len..(2 * len)]);
    }

    [Fact]
    public void Bad_images_fail_with_the_file_named_or_are_skipped_and_counted()
    {
        using var dir = new TempDir();
        for (int i = 0; i < 6; i++)
        {
            WriteImage(dir.Combine("train", i % 2 == 0 ? "x" : "y", $"{i}.png"), Pattern(20, 20, i));
        }
        var bad = dir.Combine("train", "y", "3.png");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..60]);
        var ds = ImageFolderDataset.OpenSplit(dir.Path, DataSplit.Train);
        var eval = TransformPipelines.Eval(16);

        var strict = new BatchLoader(ds, eval, 4, shuffle: false, numWorkers: 2);
        var e = Assert.Throws<ImageDecodeException>(() => Collect(strict, 0));
        Assert.Equal(bad, e.Path);

        var lenient = new BatchLoader(ds, eval, 4, shuffle: false, numWorkers: 2, badImages: BadImagePolicy.Drop);
        SkippedImagesReport? report = null;
        lenient.EpochCompleted += (_, r) => report = r;
        var batches = Collect(lenient, 0);
        Assert.Equal(5, batches.Sum(b => b.Indices.Length));
        Assert.DoesNotContain(Enumerable.Range(0, ds.Count).First(i => ds.GetPath(i) == bad), batches.SelectMany(b => b.Indices));
        Assert.Equal(1, lenient.SkippedImages);
        Assert.NotNull(report);
        Assert.Equal(1, report!.Skipped);
        Assert.Equal(bad, report.Sources.Single());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void A_bad_training_image_is_replaced_by_the_next_good_sample_whatever_the_workers(int workers)
    {
        using var dir = new TempDir();
        for (int i = 0; i < 6; i++)
        {
            WriteImage(dir.Combine("train", i % 2 == 0 ? "x" : "y", $"{i}.png"), Pattern(20, 20, i));
        }
        var bad = dir.Combine("train", "y", "3.png");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..60]);
        var ds = ImageFolderDataset.OpenSplit(dir.Path, DataSplit.Train);
        var badIndex = Enumerable.Range(0, ds.Count).First(i => ds.GetPath(i) == bad);
        var loader = new BatchLoader(ds, Augmenting(), 4, shuffle: true, seed: 7, numWorkers: workers, badImages: BadImagePolicy.Substitute);
        SkippedImagesReport? report = null;
        loader.EpochCompleted += (_, r) => report = r;
        var batches = Collect(loader, 0);
        // Batches keep their size; the bad sample's slot holds the next sample of the epoch's list.
        Assert.Equal([4, 2], batches.Select(b => b.Indices.Length));
        var order = loader.EpochIndices(0);
        var position = Array.IndexOf(order, badIndex);
        var seen = batches.SelectMany(b => b.Indices).ToArray();
        Assert.DoesNotContain(badIndex, seen);
        Assert.Equal(order[(position + 1) % order.Length], seen[position]);
        Assert.Equal(bad, report!.Sources.Single());
        // The same epoch again (as after a resume) gives the same batches.
        AssertSame(batches, Collect(new BatchLoader(ds, Augmenting(), 4, shuffle: true, seed: 7, badImages: BadImagePolicy.Substitute), 0));
    }

    [Fact]
    public void Inspect_finds_bad_files_without_decoding_good_ones()
    {
        using var dir = new TempDir();
        var good = dir.Combine("good.png");
        WriteImage(good, Pattern(20, 20, 1));
        Assert.Null(ImageDecoder.Inspect(good));
        var jpeg = dir.Combine("good.jpg");
        WriteImage(jpeg, Pattern(20, 20, 2), SKEncodedImageFormat.Jpeg);
        // Data appended after the image (some writers do) is not truncation: the suspect is decoded in full.
        File.AppendAllText(jpeg, new string('x', 4000));
        Assert.Null(ImageDecoder.Inspect(jpeg));

        var empty = dir.Combine("empty.jpg");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty", ImageDecoder.Inspect(empty));
        var text = dir.Combine("text.jpg");
        File.WriteAllText(text, "not an image at all");
        Assert.Contains("not a recognised image format", ImageDecoder.Inspect(text));
        var truncated = dir.Combine("truncated.png");
        File.WriteAllBytes(truncated, File.ReadAllBytes(good)[..(File.ReadAllBytes(good).Length / 2)]);
        Assert.NotNull(ImageDecoder.Inspect(truncated));

        // A 30000 x 30000 PNG header is 57 bytes; decoding it would allocate 3.6 GB.
        var bomb = dir.Combine("bomb.png");
        File.WriteAllBytes(bomb, PngHeader(30000, 30000));
        Assert.Contains("decompression-bomb", ImageDecoder.Inspect(bomb));
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeFile(bomb));
        Assert.Equal(bomb, e.Path);
    }

    private static byte[] PngHeader(int width, int height)
    {
        var ihdr = new byte[17];
        "IHDR"u8.CopyTo(ihdr);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(8), height);
        ihdr[12] = 8; // bit depth
        ihdr[13] = 2; // RGB
        var png = new List<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]);
        png.AddRange(ihdr);
        AddCrc(png, ihdr);
        // The decoder reads up to the first IDAT before it reports the image: a few bytes of zlib stream.
        byte[] idat = [(byte)'I', (byte)'D', (byte)'A', (byte)'T', 0x78, 0x9C, 0x63, 0x00, 0x00];
        png.AddRange([0, 0, 0, (byte)(idat.Length - 4)]);
        png.AddRange(idat);
        AddCrc(png, idat);
        png.AddRange([0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82]);
        return [.. png];

        static void AddCrc(List<byte> png, byte[] chunk)
        {
            var crc = System.IO.Hashing.Crc32.HashToUInt32(chunk);
            png.AddRange([(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc]);
        }
    }

    [Fact]
    public void Abandoning_an_epoch_stops_the_workers_and_the_next_epoch_starts_clean()
    {
        var ds = Synthetic(64);
        var loader = new BatchLoader(ds, Augmenting(), 4, shuffle: true, seed: 2, numWorkers: 2);
        foreach (var b in loader.GetEpoch(0))
        {
            b.Dispose();
            break;
        }
        var again = Collect(loader, 0);
        Assert.Equal(16, again.Count);
        AssertSame(again, Collect(new BatchLoader(ds, Augmenting(), 4, shuffle: true, seed: 2), 0));
    }

    [Fact]
    public void Workers_stay_within_the_prefetch_bound()
    {
        var inner = Synthetic(64);
        var counting = new CountingDataset(inner);
        var loader = new BatchLoader(counting, Augmenting(), 4, shuffle: false, numWorkers: 2, prefetchBatches: 2);
        using var e = loader.GetEpoch(0).GetEnumerator();
        Assert.True(e.MoveNext());
        e.Current.Dispose();
        // Give the workers time to run as far ahead as they are allowed; the bound holds however long we wait.
        Thread.Sleep(300);
        Assert.InRange(counting.Loaded, 4, 4 * (1 + 2));
    }

    private sealed class CountingDataset(IImageDataset inner) : IImageDataset
    {
        private int _loaded;

        public int Loaded => Volatile.Read(ref _loaded);

        public int Count => inner.Count;

        public IReadOnlyList<string> ClassNames => inner.ClassNames;

        public int GetLabel(int index) => inner.GetLabel(index);

        public ImageU8 LoadImage(int index)
        {
            Interlocked.Increment(ref _loaded);
            return inner.LoadImage(index);
        }

        public string Describe(int index) => inner.Describe(index);
    }
}
