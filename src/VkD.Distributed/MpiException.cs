namespace VkD.Distributed;

/// <summary>An MPI call failed, or MPI could not be loaded; the message names the call and the rank.</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception for <paramref name="call"/> on <paramref name="rank"/>.</summary>
    /// <param name="call">The MPI function (or <c>load</c> when the library itself is missing).</param>
    /// <param name="rank">The failing process's rank, or -1 before it is known.</param>
    /// <param name="errorCode">MPI's error code, or 0 when the failure is not an MPI return code.</param>
    /// <param name="message">The whole message.</param>
    public MpiException(string call, int rank, int errorCode, string message)
        : base(message)
    {
        Call = call;
        Rank = rank;
        ErrorCode = errorCode;
    }

    /// <summary>The MPI function that failed.</summary>
    public string Call { get; }

    /// <summary>Rank of the process that saw the failure (-1 before MPI_Init).</summary>
    public int Rank { get; }

    /// <summary>MPI's error code (0: not an MPI return code).</summary>
    public int ErrorCode { get; }
}
