using VkD.Data;
using VkD.Data.Datasets;
using VkD.Data.Imaging;
using VkD.Training.Loop;
using static TorchSharp.torch;

namespace VkD.Generation.Training;

/// <summary>A batch of real images for one GAN iteration: <c>DSteps · B</c> images in [-1, 1] [N, C, 32, 32] with
/// their int64 classes [N]; D step k uses rows [k·B, (k+1)·B), as BigGAN's <c>torch.split(x, batch_size)</c>.</summary>
/// <param name="Images">Images in [-1, 1].</param>
/// <param name="Labels">Classes.</param>
/// <param name="Indices">Dataset index of each image.</param>
public sealed record GanBatch(Tensor Images, Tensor Labels, IReadOnlyList<int> Indices) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// A labelled image set held in memory at the GAN's 32×32: smaller images are centred on a black 32×32 canvas
/// (28×28 MNIST gets 2 px on each side, so <see cref="NativeSize"/> records 28 for cropping back), larger ones are
/// resized (PIL bicubic); grey stays one channel unless three are asked for.
/// </summary>
public sealed class GanImageSet
{
    /// <summary>Side of the images the GAN sees.</summary>
    public const int Side = 32;

    private readonly byte[] _pixels;
    private readonly int[] _labels;
    private readonly int[] _sourceIndices;

    /// <summary>Decodes every image of <paramref name="dataset"/>.</summary>
    /// <param name="dataset">The images (a class-balanced subset for <c>--data-fraction</c>).</param>
    /// <param name="channels">1 or 3; 0 keeps the first image's.</param>
    public GanImageSet(IImageDataset dataset, int channels = 0)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Count == 0)
        {
            throw new ArgumentException("The dataset has no images.", nameof(dataset));
        }
        var first = dataset.LoadImage(0);
        Channels = channels == 0 ? first.Channels : channels;
        if (Channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "GAN images have 1 or 3 channels.");
        }
        NativeSize = Math.Min(Side, Math.Max(first.Width, first.Height));
        ClassNames = dataset.ClassNames;
        Count = dataset.Count;
        var per = Channels * Side * Side;
        _pixels = new byte[checked(Count * per)];
        _labels = new int[Count];
        _sourceIndices = Enumerable.Range(0, Count).ToArray();
        Parallel.For(0, Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, i =>
        {
            var image = dataset.LoadImage(i);
            image = Channels == 3 ? image.ToRgb() : image.ToGrey();
            if (image.Width > Side || image.Height > Side)
            {
                image = Resampler.Resize(image, Side, Side);
            }
            var (ox, oy) = ((Side - image.Width) / 2, (Side - image.Height) / 2);
            var dst = _pixels.AsSpan(i * per, per);
            for (var c = 0; c < Channels; c++)
            {
                for (var y = 0; y < image.Height; y++)
                {
                    for (var x = 0; x < image.Width; x++)
                    {
                        dst[(c * Side + y + oy) * Side + x + ox] = image[y, x, c];
                    }
                }
            }
            _labels[i] = dataset.GetLabel(i);
        });
    }

    /// <summary>Images.</summary>
    public int Count { get; }

    /// <summary>1 or 3.</summary>
    public int Channels { get; }

    /// <summary>Side of the stored images before padding (28 for MNIST; 32 when they were 32 or larger).</summary>
    public int NativeSize { get; }

    /// <summary>Class names.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of classes.</summary>
    public int NumClasses => ClassNames.Count;

    /// <summary>Class of image <paramref name="index"/>.</summary>
    public int Label(int index) => _labels[index];

    /// <summary>Images <paramref name="indices"/> in [-1, 1] [N, C, 32, 32] (BigGAN's Normalize(0.5, 0.5)), each flipped
    /// left-right where <paramref name="flip"/> says so.</summary>
    public Tensor Images(IReadOnlyList<int> indices, IReadOnlyList<bool>? flip = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var per = Channels * Side * Side;
        var data = new float[indices.Count * per];
        for (var n = 0; n < indices.Count; n++)
        {
            var src = _pixels.AsSpan(indices[n] * per, per);
            var dst = data.AsSpan(n * per, per);
            var mirror = flip is not null && flip[n];
            for (var row = 0; row < Channels * Side; row++)
            {
                for (var x = 0; x < Side; x++)
                {
                    var v = src[row * Side + (mirror ? Side - 1 - x : x)];
                    dst[row * Side + x] = ((v / 255f) - 0.5f) / 0.5f;
                }
            }
        }
        return tensor(data, [indices.Count, Channels, Side, Side]);
    }

    /// <summary>Classes of <paramref name="indices"/> as int64 [N].</summary>
    public Tensor Labels(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        return tensor(indices.Select(i => (long)_labels[i]).ToArray());
    }

    /// <summary>Dataset index of image <paramref name="index"/>.</summary>
    public int SourceIndex(int index) => _sourceIndices[index];
}

/// <summary>
/// The GAN's training batches: each pass over the data a seeded permutation of the images, cut into batches of
/// <c>imagesPerBatch</c> (= D steps × batch size; the last partial batch is dropped), each image flipped left-right
/// with probability 1/2 when mirroring (<c>--mirror_augment</c> of the reference). A training epoch of the loop is one
/// pass, or with <c>iterationsPerEpoch</c> that many batches of the endless stream of passes (BigGAN counts
/// iterations, its multi-epoch sampler chains passes), so a run's length and evaluation points need not be whole
/// passes. Batch k of pass p depends only on (seed, p, k), so a resumed run gets the same batches.
/// </summary>
public sealed class GanBatchSource : IBatchSource<GanBatch>
{
    private readonly GanImageSet _images;
    private readonly int _perBatch;
    private readonly long _seed;
    private readonly bool _mirror;
    private readonly int _iterationsPerEpoch;
    private (int Pass, int[] Order)? _lastOrder;

    /// <summary>Creates the source.</summary>
    /// <param name="images">The training images.</param>
    /// <param name="imagesPerBatch">Real images per loop step (D steps × batch size).</param>
    /// <param name="seed">Seed of the permutations and flips.</param>
    /// <param name="mirror">Flip images left-right at random.</param>
    /// <param name="iterationsPerEpoch">Batches per loop epoch; 0: one pass over the data.</param>
    public GanBatchSource(GanImageSet images, int imagesPerBatch, long seed, bool mirror = true, int iterationsPerEpoch = 0)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imagesPerBatch);
        ArgumentOutOfRangeException.ThrowIfNegative(iterationsPerEpoch);
        _images = images;
        _perBatch = imagesPerBatch;
        _seed = seed;
        _mirror = mirror;
        _iterationsPerEpoch = iterationsPerEpoch;
    }

    /// <inheritdoc />
    public int Count => _images.Count;

    /// <summary>Batches in one pass over the data.</summary>
    public int BatchesPerPass => _images.Count / _perBatch;

    /// <inheritdoc />
    public int BatchesPerEpoch => BatchesPerPass == 0 ? 0 : _iterationsPerEpoch > 0 ? _iterationsPerEpoch : BatchesPerPass;

    /// <summary>The images.</summary>
    public GanImageSet Images => _images;

    /// <inheritdoc />
    public IEnumerable<GanBatch> GetEpoch(int epoch, int startBatch = 0)
    {
        var perPass = BatchesPerPass;
        for (var b = startBatch; b < BatchesPerEpoch; b++)
        {
            var global = ((long)epoch * BatchesPerEpoch) + b;
            var (pass, k) = ((int)(global / perPass), (int)(global % perPass));
            var indices = Order(pass).AsSpan(k * _perBatch, _perBatch).ToArray();
            bool[]? flip = null;
            if (_mirror)
            {
                var flips = DeterministicRandom.ForStream(_seed, pass, k, 0xF1);
                flip = indices.Select(_ => flips.NextDouble() < 0.5).ToArray();
            }
            yield return new GanBatch(_images.Images(indices, flip), _images.Labels(indices), indices.Select(_images.SourceIndex).ToArray());
        }
    }

    private int[] Order(int pass)
    {
        if (_lastOrder is { } last && last.Pass == pass)
        {
            return last.Order;
        }
        var order = Enumerable.Range(0, _images.Count).ToArray();
        var rng = DeterministicRandom.ForStream(_seed, pass, 0x6A4);
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        _lastOrder = (pass, order);
        return order;
    }
}
