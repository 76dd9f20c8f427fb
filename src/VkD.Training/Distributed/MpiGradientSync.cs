using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using VkD.Distributed;
using static TorchSharp.torch;

namespace VkD.Training.Distributed;

/// <summary>
/// Data parallelism over MPI: gradients are averaged with one in-place allreduce per flat fp32 bucket (gradients are
/// copied into a contiguous buffer of at most <see cref="BucketBytes"/>, reduced, scaled by 1/world and copied back;
/// a gradient larger than a bucket is reduced where it lies), so a step costs a few large messages rather than one
/// per tensor. A small message of presence flags goes first: a parameter with a gradient on some ranks only (a branch
/// one rank skipped) is an error rather than a silent divergence or mismatched messages. Optionally (<see cref="CheckReplicasEvery"/>)
/// the replicas' weights are compared bit for bit every N steps.
/// </summary>
public sealed class MpiGradientSync : IGradientSync, IDisposable
{
    /// <summary>Default bucket size, about PyTorch DDP's <c>bucket_cap_mb = 25</c>.</summary>
    public const int DefaultBucketBytes = 25 << 20;

    private readonly MpiCommunicator _comm;
    private readonly long _bucketElements;
    private readonly Stopwatch _syncWatch = new();
    private readonly Stopwatch _meetWatch = new();
    private Tensor? _bucket;
    private bool _disposed;

    /// <summary>Wraps <paramref name="comm"/>.</summary>
    /// <param name="comm">MPI_COMM_WORLD of this process.</param>
    /// <param name="bucketBytes">Largest flat buffer per allreduce.</param>
    /// <param name="checkReplicasEvery">Compare the replicas' weights every this many steps (0: never).</param>
    public MpiGradientSync(MpiCommunicator comm, int bucketBytes = DefaultBucketBytes, int checkReplicasEvery = 0)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 4 << 10);
        ArgumentOutOfRangeException.ThrowIfNegative(checkReplicasEvery);
        _comm = comm;
        BucketBytes = bucketBytes;
        _bucketElements = bucketBytes / sizeof(float);
        CheckReplicasEvery = checkReplicasEvery;
    }

    /// <inheritdoc />
    public int Rank => _comm.Rank;

    /// <inheritdoc />
    public int WorldSize => _comm.Size;

    /// <summary>The communicator.</summary>
    public MpiCommunicator Communicator => _comm;

    /// <summary>Largest flat buffer per allreduce, in bytes.</summary>
    public int BucketBytes { get; }

    /// <summary>Steps between replica comparisons (0: never).</summary>
    public int CheckReplicasEvery { get; }

    /// <summary>Wall time spent in <see cref="AllReduceGradients"/> (copies included), for benchmarks.</summary>
    public TimeSpan GradientSyncTime => _syncWatch.Elapsed;

    /// <summary>Part of <see cref="GradientSyncTime"/> spent in the first, tiny message of each call, where the ranks
    /// meet: mostly waiting for the slowest rank to finish its backward pass.</summary>
    public TimeSpan MeetTime => _meetWatch.Elapsed;

    /// <summary>Calls of <see cref="AllReduceGradients"/>.</summary>
    public long GradientSyncCalls { get; private set; }

    /// <summary>Allreduce calls issued for gradients (buckets and large tensors).</summary>
    public long GradientMessages { get; private set; }

    /// <summary>Gradient bytes this process contributed, over all calls.</summary>
    public long GradientBytes { get; private set; }

    /// <inheritdoc />
    public void AllReduceGradients(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _syncWatch.Start();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var grads = new Tensor?[parameters.Count];
            for (var i = 0; i < parameters.Count; i++)
            {
                var g = parameters[i].grad;
                if (g is not null)
                {
                    RequireGradient(g, i);
                }
                grads[i] = g;
            }
            // Presence first, in a message of its own: a parameter with a gradient on some ranks only would otherwise
            // pair mismatched allreduces (a hang or a truncation error) instead of a clear error.
            var flags = new float[parameters.Count];
            for (var i = 0; i < flags.Length; i++)
            {
                flags[i] = grads[i] is null ? 0f : 1f;
            }
            _meetWatch.Start();
            _comm.AllReduceSum(flags);
            _meetWatch.Stop();
            CheckPresence(flags);
            var bucket = Bucket(grads.Sum(g => g is null || g.numel() > _bucketElements ? 0 : g.numel()));
            var pending = new List<(Tensor Grad, long Offset)>();
            long offset = 0;
            foreach (var g in grads)
            {
                if (g is null)
                {
                    continue;
                }
                var n = g.numel();
                if (n > _bucketElements && g.is_contiguous())
                {
                    // Too big for a bucket: reduced where it lies, no copies.
                    Reduce(MemoryMarshal.Cast<byte, float>(g.bytes));
                    g.mul_(1.0 / WorldSize);
                    continue;
                }
                if (n > _bucketElements)
                {
                    throw new NotSupportedException($"A non-contiguous gradient of {n} elements does not fit a {BucketBytes}-byte bucket.");
                }
                if (offset + n > bucket.numel())
                {
                    Flush(bucket, offset, pending);
                    offset = 0;
                }
                bucket.narrow(0, offset, n).copy_(g.reshape(-1));
                pending.Add((g, offset));
                offset += n;
            }
            Flush(bucket, offset, pending);
            GradientSyncCalls++;
        }
        finally
        {
            _syncWatch.Stop();
        }
    }

    /// <summary>One line on the gradient exchange of a run of <paramref name="steps"/> steps in
    /// <paramref name="seconds"/>: time per step and its share, messages and megabytes per step.</summary>
    public string Describe(long steps, double seconds)
    {
        var perStep = Math.Max(1, steps);
        var ms = GradientSyncTime.TotalMilliseconds / perStep;
        var meet = MeetTime.TotalMilliseconds / perStep;
        return string.Create(CultureInfo.InvariantCulture,
            $"gradient allreduce on rank {Rank}: {ms:F1} ms per step ({100 * GradientSyncTime.TotalSeconds / seconds:F1}% of the run): " +
            $"{meet:F1} ms waiting for the slowest rank, {ms - meet:F1} ms moving {(double)GradientMessages / perStep:F1} message(s) of " +
            $"{GradientBytes / 1048576.0 / perStep:F2} MB over {WorldSize} ranks");
    }

    /// <inheritdoc />
    public double AllReduceMean(double value)
    {
        Span<double> v = [value];
        _comm.AllReduceSum(v);
        return v[0] / WorldSize;
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values) => _comm.AllReduceSum(values);

    /// <inheritdoc />
    public void AllReduceSum(Span<long> values) => _comm.AllReduceSum(values);

    /// <inheritdoc />
    public byte[][] AllGather(ReadOnlySpan<byte> mine) => _comm.AllGather(mine);

    /// <inheritdoc />
    public void Barrier() => _comm.Barrier();

    /// <inheritdoc />
    public void BroadcastFromMain(IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var _ = no_grad();
        // Packed into byte buckets: a model's state is hundreds of small tensors (biases, norms, counters).
        var buffer = ArrayPool<byte>.Shared.Rent(BucketBytes);
        try
        {
            var batch = new List<Tensor>();
            long used = 0;
            void Flush()
            {
                if (batch.Count == 0)
                {
                    return;
                }
                var span = buffer.AsSpan(0, (int)used);
                if (Rank == 0)
                {
                    var at = 0;
                    foreach (var t in batch)
                    {
                        var b = t.bytes;
                        b.CopyTo(span[at..]);
                        at += b.Length;
                    }
                }
                _comm.Broadcast(span, 0);
                if (Rank != 0)
                {
                    var at = 0;
                    foreach (var t in batch)
                    {
                        var b = t.bytes;
                        span.Slice(at, b.Length).CopyTo(b);
                        at += b.Length;
                    }
                }
                batch.Clear();
                used = 0;
            }
            for (var i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                RequireState(t, i);
                var size = t.numel() * t.ElementSize;
                if (size > BucketBytes)
                {
                    Flush();
                    _comm.Broadcast(t.bytes, 0);
                    continue;
                }
                if (used + size > BucketBytes)
                {
                    Flush();
                }
                batch.Add(t);
                used += size;
            }
            Flush();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    public void AfterStep(long step, IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (CheckReplicasEvery == 0 || (step + 1) % CheckReplicasEvery != 0)
        {
            return;
        }
        var mine = ReplicaChecksum.Of(parameters);
        Span<byte> main = stackalloc byte[sizeof(long)];
        MemoryMarshal.Write(main, mine);
        _comm.Broadcast(main, 0);
        var reference = MemoryMarshal.Read<long>(main);
        var differs = new long[WorldSize];
        differs[Rank] = mine == reference ? 0 : 1;
        _comm.AllReduceSum(differs);
        var ranks = Enumerable.Range(0, WorldSize).Where(r => differs[r] != 0).ToList();
        if (ranks.Count > 0)
        {
            throw new ReplicaMismatchException(step, ranks, WorldSize);
        }
    }

    /// <summary>Frees the bucket; MPI itself stays up for the process (see <see cref="MpiCommunicator.FinalizeAtExit"/>).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _bucket?.Dispose();
    }

    private void Flush(Tensor bucket, long used, List<(Tensor Grad, long Offset)> pending)
    {
        if (used == 0)
        {
            return;
        }
        Reduce(MemoryMarshal.Cast<byte, float>(bucket.bytes)[..(int)used]);
        bucket.narrow(0, 0, used).mul_(1.0 / WorldSize);
        foreach (var (grad, start) in pending)
        {
            grad.copy_(bucket.narrow(0, start, grad.numel()).view(grad.shape));
        }
        pending.Clear();
    }

    // No larger than the gradients need (a small model does not hold 25 MB for nothing); kept across steps, outside
    // every dispose scope (the loop's step scope would free it).
    private Tensor Bucket(long needed)
    {
        var size = Math.Max(1, Math.Min(_bucketElements, needed));
        if (_bucket is null || _bucket.numel() < size)
        {
            _bucket?.Dispose();
            _bucket = zeros(size, ScalarType.Float32).DetachFromDisposeScope();
        }
        return _bucket;
    }

    private void Reduce(Span<float> values)
    {
        _comm.AllReduceSum(values);
        GradientMessages++;
        GradientBytes += (long)values.Length * sizeof(float);
    }

    private void CheckPresence(float[] flags)
    {
        var partial = new List<int>();
        for (var i = 0; i < flags.Length; i++)
        {
            if (flags[i] != 0 && flags[i] != WorldSize)
            {
                partial.Add(i);
            }
        }
        if (partial.Count > 0)
        {
            throw new InvalidOperationException($"{_comm.Describe()}: parameter(s) {string.Join(", ", partial.Take(8))} of the optimiser have a gradient " +
                "on some ranks and none on others (a branch of the model ran on some ranks only); every rank must produce the same set of gradients.");
        }
    }

    private static void RequireGradient(Tensor g, int index)
    {
        if (g.device_type != DeviceType.CPU)
        {
            throw new NotSupportedException($"MPI data parallelism exchanges CPU tensors; the gradient of parameter {index} is on {g.device}. Run with --device cpu.");
        }
        if (g.dtype != ScalarType.Float32)
        {
            throw new NotSupportedException($"The gradient of parameter {index} is {g.dtype}; gradients are averaged in fp32.");
        }
    }

    private static void RequireState(Tensor t, int index)
    {
        if (t.device_type != DeviceType.CPU || !t.is_contiguous())
        {
            throw new NotSupportedException($"State tensor {index} ({t.device}, {(t.is_contiguous() ? "contiguous" : "not contiguous")}) cannot be " +
                "broadcast in place; MPI data parallelism exchanges contiguous CPU tensors.");
        }
    }
}
