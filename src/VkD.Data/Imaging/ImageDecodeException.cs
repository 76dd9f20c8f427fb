namespace VkD.Data.Imaging;

/// <summary>A file that is not a decodable image (corrupt, truncated or an unknown format); names the file.</summary>
public sealed class ImageDecodeException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/> with the reason.</summary>
    public ImageDecodeException(string path, string reason, Exception? inner = null)
        : base($"Cannot decode image '{path}': {reason}", inner)
    {
        Path = path;
    }

    /// <summary>The file that failed.</summary>
    public string Path { get; }
}
