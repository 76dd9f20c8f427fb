using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using VkD.Data.Datasets;
using VkD.Data.Imaging;
using VkD.Data.Transforms;
using static TorchSharp.torch;

namespace VkD.Data.Loading;

/// <summary>What the loader does with an image that fails to decode.</summary>
public enum BadImagePolicy
{
    /// <summary>Throw <see cref="ImageDecodeException"/> naming the file.</summary>
    Fail,

    /// <summary>Training: use the next good sample of the epoch's list in its place (augmented with the bad sample's
    /// own random stream), so batches keep their size and a resumed epoch sees the same substitutes.</summary>
    Substitute,

    /// <summary>Evaluation: leave the sample out, so no image is counted twice; the batch is smaller.</summary>
    Drop,
}

/// <summary>Summary of the bad images an epoch met (<see cref="BadImagePolicy.Substitute"/> or <see cref="BadImagePolicy.Drop"/>).</summary>
/// <param name="Epoch">The epoch.</param>
/// <param name="Skipped">How many samples failed (and were replaced or left out).</param>
/// <param name="Sources">Which files (dataset descriptions) failed, in batch order.</param>
public sealed record SkippedImagesReport(int Epoch, int Skipped, IReadOnlyList<string> Sources);

/// <summary>Decodes, augments and batches a dataset with worker threads and bounded prefetch.</summary>
/// <remarks>
/// Determinism: the epoch's index list depends only on (seed, epoch, rank, world size) (<see cref="EpochSampler"/>),
/// and sample <c>p</c> of the rank's list is augmented with <c>DeterministicRandom.ForStream(seed, epoch, rank, p)</c>.
/// So batches are identical whatever <c>numWorkers</c> is, and <c>GetEpoch(e, k)</c> yields exactly batches k, k+1, ...
/// of an uninterrupted <c>GetEpoch(e)</c> (what an exact resume needs). Memory: at most <c>prefetchBatches</c> batches
/// are decoded ahead of the consumer; images are never cached.
/// </remarks>
public sealed class BatchLoader
{
    private readonly IImageDataset _dataset;
    private readonly TransformPipeline _pipeline;
    private readonly SamplerOptions _sampler;
    private readonly List<string> _skippedSources = [];

    /// <summary>Creates the loader.</summary>
    /// <param name="dataset">The images.</param>
    /// <param name="pipeline">Per-image transforms ending in a fixed size.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="shuffle">Reshuffle every epoch (from seed and epoch).</param>
    /// <param name="dropLast">Drop the last partial batch.</param>
    /// <param name="seed">Seed of the order and of every augmentation.</param>
    /// <param name="numWorkers">Decode/augment threads; 0 runs everything on the consumer's thread.</param>
    /// <param name="sampler">Plain or repeated-augmentation sampling (default plain).</param>
    /// <param name="rank">This process's shard.</param>
    /// <param name="worldSize">Number of shards.</param>
    /// <param name="prefetchBatches">Batches decoded ahead of the consumer (at least 1).</param>
    /// <param name="badImages">What to do with an image that fails to decode (default: throw).</param>
    /// <param name="augmentationDraws">0: a fresh augmentation per epoch and sample position; K &gt; 0: K recorded
    /// augmentations per image, cycled by epoch (see <see cref="AugmentationDraws"/>).</param>
    public BatchLoader(IImageDataset dataset, TransformPipeline pipeline, int batchSize, bool shuffle = true, bool dropLast = false,
        long seed = 0, int numWorkers = 0, SamplerOptions? sampler = null, int rank = 0, int worldSize = 1,
        int prefetchBatches = 2, BadImagePolicy badImages = BadImagePolicy.Fail, int augmentationDraws = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(augmentationDraws);
        if (batchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), $"Batch size must be positive, got {batchSize}.");
        }
        if (numWorkers < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(numWorkers), $"Worker count must be >= 0, got {numWorkers}.");
        }
        if (prefetchBatches < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(prefetchBatches), $"Prefetch must be at least 1 batch, got {prefetchBatches}.");
        }
        _dataset = dataset;
        _pipeline = pipeline;
        _sampler = sampler ?? SamplerOptions.Default;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        Seed = seed;
        NumWorkers = numWorkers;
        Rank = rank;
        WorldSize = worldSize;
        PrefetchBatches = prefetchBatches;
        BadImages = badImages;
        AugmentationDrawCount = augmentationDraws;
        SamplesPerEpoch = EpochSampler.Indices(dataset.Count, false, seed, 0, _sampler, rank, worldSize).Length;
        BatchesPerEpoch = dropLast ? SamplesPerEpoch / batchSize : (SamplesPerEpoch + batchSize - 1) / batchSize;
    }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch is shuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether a last partial batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>The seed.</summary>
    public long Seed { get; }

    /// <summary>Worker threads (0 = synchronous).</summary>
    public int NumWorkers { get; }

    /// <summary>This shard.</summary>
    public int Rank { get; }

    /// <summary>Number of shards.</summary>
    public int WorldSize { get; }

    /// <summary>Batches decoded ahead.</summary>
    public int PrefetchBatches { get; }

    /// <summary>What happens to undecodable images.</summary>
    public BadImagePolicy BadImages { get; }

    /// <summary>Augmentations per image cycled by epoch (0: a fresh one every epoch).</summary>
    public int AugmentationDrawCount { get; }

    /// <summary>Images in the dataset (the range of <see cref="Batch.Indices"/>).</summary>
    public int DatasetCount => _dataset.Count;

    /// <summary>Samples this rank visits per epoch.</summary>
    public int SamplesPerEpoch { get; }

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>Bad images skipped so far in the current (or last finished) epoch.</summary>
    public int SkippedImages
    {
        get
        {
            lock (_skippedSources)
            {
                return _skippedSources.Count;
            }
        }
    }

    /// <summary>Raised when an epoch's enumeration finishes, with the bad images it skipped (also when none).</summary>
    public event EventHandler<SkippedImagesReport>? EpochCompleted;

    private DeterministicRandom SampleStream(int epoch, int sample, int index) => AugmentationDrawCount > 0
        ? AugmentationDraws.Stream(Seed, AugmentationDraws.Of(epoch, AugmentationDrawCount), index)
        : DeterministicRandom.ForStream(Seed, epoch, Rank, sample);

    /// <summary>The dataset indices this rank visits in <paramref name="epoch"/>, in order.</summary>
    public int[] EpochIndices(int epoch) => EpochSampler.Indices(_dataset.Count, Shuffle, Seed, epoch, _sampler, Rank, WorldSize);

    /// <summary>The batches of <paramref name="epoch"/> from <paramref name="startBatch"/> on.</summary>
    /// <exception cref="ImageDecodeException">A bad image, when not skipping (the file is named).</exception>
    public IEnumerable<Batch> GetEpoch(int epoch, int startBatch = 0)
    {
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
        {
            throw new ArgumentOutOfRangeException(nameof(startBatch), $"Start batch {startBatch} is not in [0, {BatchesPerEpoch}].");
        }
        return Enumerate(epoch, startBatch);
    }

    private IEnumerable<Batch> Enumerate(int epoch, int startBatch)
    {
        lock (_skippedSources)
        {
            _skippedSources.Clear();
        }
        var indices = EpochIndices(epoch);
        var run = new EpochRun(this, indices, epoch, startBatch);
        try
        {
            run.Start();
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                var slot = run.WaitFor(b);
                var batch = run.Assemble(slot);
                if (batch is not null)
                {
                    yield return batch;
                }
            }
        }
        finally
        {
            run.Stop();
        }
        List<string> sources;
        lock (_skippedSources)
        {
            sources = [.. _skippedSources];
        }
        EpochCompleted?.Invoke(this, new SkippedImagesReport(epoch, sources.Count, sources));
    }

    private void RecordSkipped(string source)
    {
        lock (_skippedSources)
        {
            _skippedSources.Add(source);
        }
    }

    /// <summary>One batch being filled: its buffer, which samples failed, and how many are still pending.</summary>
    private sealed class Slot
    {
        public required int BatchIndex { get; init; }
        public required int Start { get; init; }
        public required int Count { get; init; }
        public required float[] Buffer { get; init; }
        public required bool[] Failed { get; init; }
        public int[] Substitute { get; init; } = [];
        public string?[] FailedSource { get; init; } = [];
        public ExceptionDispatchInfo?[] Errors { get; init; } = [];
        public int Remaining;
    }

    /// <summary>The state of one epoch's enumeration: worker threads claim samples in order, never more than
    /// <see cref="PrefetchBatches"/> batches ahead of the consumer.</summary>
    private sealed class EpochRun(BatchLoader loader, int[] indices, int epoch, int startBatch)
    {
        private readonly object _gate = new();
        private readonly Dictionary<int, Slot> _slots = [];
        private readonly List<Thread> _threads = [];
        private int _nextSample = startBatch * loader.BatchSize;
        private int _consumed = startBatch;
        private bool _stopping;
        private readonly int _end = Math.Min(indices.Length, loader.BatchesPerEpoch * loader.BatchSize);

        public void Start()
        {
            for (int w = 0; w < loader.NumWorkers; w++)
            {
                var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"vkd-data-{w}" };
                _threads.Add(t);
                t.Start();
            }
        }

        public void Stop()
        {
            lock (_gate)
            {
                _stopping = true;
                Monitor.PulseAll(_gate);
            }
            foreach (var t in _threads)
            {
                t.Join();
            }
            lock (_gate)
            {
                foreach (var s in _slots.Values)
                {
                    ArrayPool<float>.Shared.Return(s.Buffer);
                }
                _slots.Clear();
            }
        }

        public Slot WaitFor(int batch)
        {
            if (loader.NumWorkers == 0)
            {
                // Synchronous: fill the batch on this thread.
                while (true)
                {
                    int sample;
                    Slot slot;
                    lock (_gate)
                    {
                        if (_nextSample >= _end || _nextSample / loader.BatchSize > batch)
                        {
                            break;
                        }
                        sample = _nextSample++;
                        slot = GetSlot(sample / loader.BatchSize);
                    }
                    Process(slot, sample);
                }
            }
            lock (_gate)
            {
                var slot = GetSlot(batch);
                while (Volatile.Read(ref slot.Remaining) > 0)
                {
                    Monitor.Wait(_gate);
                }
                _slots.Remove(batch);
                _consumed = batch + 1;
                Monitor.PulseAll(_gate);
                return slot;
            }
        }

        public Batch? Assemble(Slot slot)
        {
            try
            {
                foreach (var error in slot.Errors)
                {
                    error?.Throw();
                }
                var ok = new List<int>(slot.Count);
                for (int i = 0; i < slot.Count; i++)
                {
                    if (slot.FailedSource[i] is { } source)
                    {
                        loader.RecordSkipped(source);
                    }
                    if (!slot.Failed[i])
                    {
                        ok.Add(i);
                    }
                }
                if (ok.Count == 0)
                {
                    return null;
                }
                int len = loader._pipeline.SampleLength;
                var images = empty([ok.Count, loader._pipeline.Channels, loader._pipeline.Height, loader._pipeline.Width], ScalarType.Float32);
                // Compact the good samples to the front of the buffer, then one copy into the tensor.
                for (int k = 0; k < ok.Count; k++)
                {
                    if (ok[k] != k)
                    {
                        slot.Buffer.AsSpan(ok[k] * len, len).CopyTo(slot.Buffer.AsSpan(k * len, len));
                    }
                }
                // Tensor.bytes is a span over the CPU tensor's own memory: one straight copy, no per-element accessor.
                slot.Buffer.AsSpan(0, ok.Count * len).CopyTo(MemoryMarshal.Cast<byte, float>(images.bytes));
                var labels = new long[ok.Count];
                var idx = new int[ok.Count];
                for (int k = 0; k < ok.Count; k++)
                {
                    idx[k] = slot.FailedSource[ok[k]] is null ? indices[slot.Start + ok[k]] : slot.Substitute[ok[k]];
                    labels[k] = loader._dataset.GetLabel(idx[k]);
                }
                return new Batch(images, tensor(labels, [ok.Count]), idx, epoch, slot.BatchIndex);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(slot.Buffer);
            }
        }

        private Slot GetSlot(int batch)
        {
            if (!_slots.TryGetValue(batch, out var slot))
            {
                int start = batch * loader.BatchSize;
                int count = Math.Min(loader.BatchSize, _end - start);
                slot = new Slot
                {
                    BatchIndex = batch,
                    Start = start,
                    Count = count,
                    Buffer = ArrayPool<float>.Shared.Rent(count * loader._pipeline.SampleLength),
                    Failed = new bool[count],
                    Substitute = new int[count],
                    FailedSource = new string?[count],
                    Errors = new ExceptionDispatchInfo?[count],
                    Remaining = count,
                };
                _slots[batch] = slot;
            }
            return slot;
        }

        private void WorkerLoop()
        {
            while (true)
            {
                int sample;
                Slot slot;
                lock (_gate)
                {
                    while (!_stopping && _nextSample < _end && _nextSample / loader.BatchSize >= _consumed + loader.PrefetchBatches)
                    {
                        Monitor.Wait(_gate);
                    }
                    if (_stopping || _nextSample >= _end)
                    {
                        return;
                    }
                    sample = _nextSample++;
                    slot = GetSlot(sample / loader.BatchSize);
                }
                Process(slot, sample);
            }
        }

        /// <summary>Fills <paramref name="output"/> from the first decodable sample after <paramref name="sample"/> in
        /// the epoch's list (wrapping), with the bad sample's own random stream: the choice depends only on the data,
        /// never on thread timing. Gives up (and the sample is left out) after a few bad neighbours.</summary>
        private int ReplaceWithNextGood(int sample, Span<float> output)
        {
            const int Tries = 16;
            for (int k = 1; k <= Math.Min(Tries, indices.Length - 1); k++)
            {
                int candidate = indices[(sample + k) % indices.Length];
                try
                {
                    var image = loader._dataset.LoadImage(candidate);
                    // Cycled draws are keyed by the image actually used, so its replayed teacher output matches.
                    loader._pipeline.Run(image, loader.SampleStream(epoch, sample, candidate), output);
                    return candidate;
                }
                catch (ImageDecodeException)
                {
                }
            }
            throw new ImageDecodeException(loader._dataset.Describe(indices[sample]), $"no decodable image among the {Tries} samples after it");
        }

        private void Process(Slot slot, int sample)
        {
            int i = sample - slot.Start;
            int index = indices[sample];
            var output = slot.Buffer.AsSpan(i * loader._pipeline.SampleLength, loader._pipeline.SampleLength);
            try
            {
                var rng = loader.SampleStream(epoch, sample, index);
                var image = loader._dataset.LoadImage(index);
                loader._pipeline.Run(image, rng, output);
            }
            catch (ImageDecodeException e) when (loader.BadImages == BadImagePolicy.Substitute)
            {
                slot.FailedSource[i] = e.Path;
                try
                {
                    slot.Substitute[i] = ReplaceWithNextGood(sample, output);
                }
                catch (ImageDecodeException)
                {
                    slot.Failed[i] = true;
                }
            }
            catch (ImageDecodeException e) when (loader.BadImages == BadImagePolicy.Drop)
            {
                slot.Failed[i] = true;
                slot.FailedSource[i] = e.Path;
            }
            catch (Exception e)
            {
                // Kept per sample; the consumer rethrows the first by sample order, so the failure reported
                // does not depend on thread timing.
                slot.Errors[i] = ExceptionDispatchInfo.Capture(e);
            }
            lock (_gate)
            {
                if (--slot.Remaining == 0)
                {
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }
}
