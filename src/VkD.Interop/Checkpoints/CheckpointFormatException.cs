namespace VkD.Interop.Checkpoints;

/// <summary>A file that is not a readable PyTorch/safetensors checkpoint (truncated, random, legacy pickle, …).
/// The message names the file and says what to do.</summary>
public sealed class CheckpointFormatException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public CheckpointFormatException(string path, string message, Exception? inner = null)
        : base($"Cannot read checkpoint '{path}': {message}", inner)
    {
        Path = path;
    }

    /// <summary>The file that could not be read.</summary>
    public string Path { get; }
}

/// <summary>A strict load whose keys or shapes do not match the module; <see cref="Report"/> lists every problem.</summary>
public sealed class CheckpointMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception from a load report.</summary>
    public CheckpointMismatchException(string source, LoadReport report)
        : base($"State dict from '{source}' does not match the model (strict load):{Environment.NewLine}{report.Describe()}")
    {
        Source = source;
        Report = report;
    }

    /// <summary>Where the state dict came from (file path or a description).</summary>
    public new string Source { get; }

    /// <summary>Missing keys, unexpected keys and shape mismatches.</summary>
    public LoadReport Report { get; }
}
