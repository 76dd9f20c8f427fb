namespace VkD.Training.Logging;

/// <summary>Writes files so a reader (or a crash) never sees a half-written one: temp file in the same folder, then rename.</summary>
public static class AtomicFile
{
    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="text"/>.</summary>
    public static void WriteAllText(string path, string text)
    {
        var tmp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Atomically replaces <paramref name="destination"/> with a copy of <paramref name="source"/>.</summary>
    public static void Copy(string source, string destination)
    {
        var tmp = destination + ".tmp-" + Environment.ProcessId;
        File.Copy(source, tmp, overwrite: true);
        File.Move(tmp, destination, overwrite: true);
    }
}
