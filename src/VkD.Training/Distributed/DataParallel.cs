using System.Globalization;
using VkD.Distributed;
using VkD.Training.Loop;
using VkD.Training.Options;

namespace VkD.Training.Distributed;

/// <summary>
/// How this process takes part in data-parallel training, decided from its environment: started by <c>mpirun</c> as
/// one of several processes (<c>OMPI_COMM_WORLD_SIZE</c> &gt; 1), it joins the MPI job; otherwise it trains alone and
/// never loads libmpi. <c>vkd launch</c> passes its settings to the ranks in the variables below.
/// </summary>
public static class DataParallel
{
    /// <summary>Compare the replicas' weights every N steps (debug; 0 or unset: never).</summary>
    public const string CheckEveryVariable = "VKD_CHECK_SYNC_EVERY";

    /// <summary>Seconds one collective may wait before the job is ended (default 1800).</summary>
    public const string TimeoutVariable = "VKD_COLLECTIVE_TIMEOUT";

    /// <summary>Gradient bucket size in MB (default 25).</summary>
    public const string BucketVariable = "VKD_BUCKET_MB";

    /// <summary><c>linear</c>: scale --lr by (ranks × --batch-size) / 512, DeiT's rule; unset or <c>none</c>: the lr
    /// is used as given, as the reference does.</summary>
    public const string ScaleLrVariable = "VKD_SCALE_LR";

    /// <summary>
    /// Runs <paramref name="run"/> on <paramref name="sync"/>, or, when that is null, on the MPI job this process belongs
    /// to (<see cref="FromEnvironment"/>; a single process gets <see cref="SingleProcessGradientSync"/>). MPI is
    /// finalised at process exit only when the run ended alike on every rank: done, or one of the errors every rank
    /// raises at the same step (non-finite loss, interruption, replica mismatch). After any other error this rank leaves
    /// without finalising (finalising would wait for the others) and mpirun ends the job.
    /// </summary>
    public static T RunInJob<T>(IGradientSync? sync, Func<IGradientSync, T> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var owned = sync is null ? FromEnvironment() : null;
        sync ??= (IGradientSync?)owned ?? SingleProcessGradientSync.Instance;
        owned?.Communicator.FinalizeAtExit = false;
        try
        {
            var result = run(sync);
            owned?.Communicator.FinalizeAtExit = true;
            return result;
        }
        catch (Exception e) when (e is NonFiniteLossException or TrainingInterruptedException or ReplicaMismatchException)
        {
            owned?.Communicator.FinalizeAtExit = true;
            throw;
        }
        finally
        {
            owned?.Dispose();
        }
    }

    /// <summary>The sync for this process: MPI when <c>mpirun</c> started several processes, else null.</summary>
    /// <exception cref="MpiException">Several processes were launched but MPI cannot be loaded or initialised, or an
    /// MPICH-style launcher started them.</exception>
    public static MpiGradientSync? FromEnvironment()
    {
        if (MpiProcessEnvironment.IsOtherMpiLauncher)
        {
            throw new MpiException("launch", -1, 0, "This process was started by an MPICH-style launcher (PMI_SIZE is set); VkD.NET's MPI binding " +
                "speaks Open MPI only. Launch with Open MPI's mpirun (vkd launch does).");
        }
        if (!MpiProcessEnvironment.IsMultiProcess)
        {
            return null;
        }
        var timeout = Number(TimeoutVariable, 1800);
        var comm = MpiCommunicator.World(timeout > 0 ? TimeSpan.FromSeconds(timeout) : Timeout.InfiniteTimeSpan);
        var bucketMb = Number(BucketVariable, 25);
        if (bucketMb <= 0)
        {
            throw new ArgumentException($"{BucketVariable}={bucketMb}: the gradient bucket must be a positive number of MB.");
        }
        return new MpiGradientSync(comm, (int)Math.Min(int.MaxValue, bucketMb * (1 << 20)), (int)Number(CheckEveryVariable, 0));
    }

    /// <summary>The learning rate this run uses: as given, or scaled by DeiT's linear rule when
    /// <see cref="ScaleLrVariable"/> asks for it; the reason is returned for the banner.</summary>
    public static (double Lr, string? Note) LearningRate(TrainingOptions options, int worldSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        var mode = Environment.GetEnvironmentVariable(ScaleLrVariable);
        if (string.IsNullOrEmpty(mode) || mode.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return (options.Lr, null);
        }
        if (!mode.Equals("linear", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"{ScaleLrVariable}={mode}: use none or linear (--scale-lr of vkd launch).");
        }
        var effective = (long)options.BatchSize * worldSize;
        var lr = options.Lr * effective / 512.0;
        return (lr, string.Create(CultureInfo.InvariantCulture, $"lr scaled linearly: {options.Lr:G4} x {effective} / 512 = {lr:G4}"));
    }

    private static double Number(string variable, double fallback)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && v >= 0
            ? v
            : throw new ArgumentException($"{variable}={text}: expected a non-negative number.");
    }
}
