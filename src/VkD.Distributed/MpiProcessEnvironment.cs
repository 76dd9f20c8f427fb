using System.Globalization;

namespace VkD.Distributed;

/// <summary>What the launcher told this process through its environment, read before MPI is initialised (so a
/// single-process run never loads libmpi).</summary>
public static class MpiProcessEnvironment
{
    /// <summary>Processes in the job according to <c>mpirun</c> (<c>OMPI_COMM_WORLD_SIZE</c>), or null when not
    /// started by Open MPI's launcher.</summary>
    public static int? WorldSize => Read("OMPI_COMM_WORLD_SIZE");

    /// <summary>This process's rank according to <c>mpirun</c> (<c>OMPI_COMM_WORLD_RANK</c>), or null.</summary>
    public static int? Rank => Read("OMPI_COMM_WORLD_RANK");

    /// <summary>This process's rank among those on its node (<c>OMPI_COMM_WORLD_LOCAL_RANK</c>), or null.</summary>
    public static int? LocalRank => Read("OMPI_COMM_WORLD_LOCAL_RANK");

    /// <summary>True when <c>mpirun</c> started this process as one of several.</summary>
    public static bool IsMultiProcess => WorldSize > 1;

    /// <summary>True when an MPICH-style launcher (<c>PMI_SIZE</c>, Hydra) started several processes: not supported
    /// by this binding, which speaks Open MPI's ABI only.</summary>
    public static bool IsOtherMpiLauncher => WorldSize is null && Read("PMI_SIZE") > 1;

    private static int? Read(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;
}
