using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace VkD.Training.Logging;

/// <summary>Thrown when another live run holds the output folder.</summary>
public sealed class OutputFolderLockedException(string message) : IOException(message);

/// <summary>
/// One run per output folder: a lock file (<c>.vkd.lock</c>) naming the owner's pid and host, created exclusively, so a
/// second run in the same folder fails at once with a clear error instead of interleaving checkpoints and logs. A lock
/// whose owner is gone (same host, process no longer alive) is stale and taken over. Released on dispose.
/// </summary>
public sealed class OutputFolderLock : IDisposable
{
    /// <summary>Name of the lock file inside the output folder.</summary>
    public const string FileName = ".vkd.lock";

    // Locks this process holds: a lock file with our own pid is live only if it is one of these (otherwise it was left
    // by an earlier run in this process that died, e.g. a test's simulated crash).
    private static readonly HashSet<string> Held = new(StringComparer.Ordinal);

    private readonly string _path;
    private readonly string _token;

    private OutputFolderLock(string path, string token)
    {
        _path = path;
        _token = token;
    }

    /// <summary>Takes the lock of <paramref name="folder"/> (creating the folder).</summary>
    /// <exception cref="OutputFolderLockedException">A live run holds it; the message names its pid, host and start.</exception>
    public static OutputFolderLock Acquire(string folder)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, FileName);
        var token = Guid.NewGuid().ToString("N");
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["pid"] = Environment.ProcessId,
            ["host"] = Environment.MachineName,
            ["started"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["token"] = token,
        });
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                using (var writer = new StreamWriter(stream))
                {
                    writer.Write(body);
                }
                lock (Held)
                {
                    Held.Add(Path.GetFullPath(path));
                }
                return new OutputFolderLock(path, token);
            }
            catch (IOException) when (File.Exists(path))
            {
                var owner = ReadOwner(path);
                if (owner is not null && IsAlive(owner.Value.Pid, owner.Value.Host, path))
                {
                    throw new OutputFolderLockedException(
                        $"Output folder '{folder}' is in use by another run (pid {owner.Value.Pid} on {owner.Value.Host}, started {owner.Value.Started}). " +
                        $"Wait for it to finish, pass another --output-dir, or delete '{path}' if that run is gone.");
                }
                // Stale (owner gone) or unreadable (torn by a kill while it was written): take it over.
                File.Delete(path);
            }
        }
        throw new OutputFolderLockedException($"Could not take the lock '{path}': another process keeps recreating it.");
    }

    private static (int Pid, string Host, string Started)? ReadOwner(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            return (root.GetProperty("pid").GetInt32(), root.GetProperty("host").GetString() ?? "", root.GetProperty("started").GetString() ?? "");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IOException)
        {
            return null;
        }
    }

    // A lock from another host cannot be checked from here, so it counts as live: the user decides.
    private static bool IsAlive(int pid, string host, string path)
    {
        if (!string.Equals(host, Environment.MachineName, StringComparison.Ordinal))
        {
            return true;
        }
        if (pid == Environment.ProcessId)
        {
            lock (Held)
            {
                return Held.Contains(Path.GetFullPath(path));
            }
        }
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Deletes files that interrupted atomic writes left behind in <paramref name="folder"/> (temporary
    /// checkpoint, log and copy files), so a crash on a full disk does not keep the disk full. Call under the lock.</summary>
    /// <returns>The files deleted.</returns>
    public static IReadOnlyList<string> CleanOrphanedTemporaries(string folder)
    {
        var deleted = new List<string>();
        if (!Directory.Exists(folder))
        {
            return deleted;
        }
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            var name = Path.GetFileName(file);
            var orphan = name.Contains(".tmp-", StringComparison.Ordinal)
                || (name.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal));
            if (orphan)
            {
                File.Delete(file);
                deleted.Add(file);
            }
        }
        return deleted;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (Held)
        {
            Held.Remove(Path.GetFullPath(_path));
        }
        // Only our own lock is removed: a run that took over a lock it thought stale must not lose it to us.
        try
        {
            if (File.Exists(_path) && File.ReadAllText(_path).Contains(_token, StringComparison.Ordinal))
            {
                File.Delete(_path);
            }
        }
        catch (IOException)
        {
        }
    }
}
