using System.Globalization;
using System.Text;

namespace VkD.Training.Logging;

/// <summary>
/// An append-only CSV file with a fixed header, flushed after every row so a crash loses nothing already logged.
/// Opening for a resumed run keeps only the rows the resumed state has already accounted for, so a run that was
/// killed and resumed ends with exactly the rows of an uninterrupted one.
/// </summary>
public sealed class CsvLog : IDisposable
{
    private readonly StreamWriter _writer;

    private CsvLog(string path, IReadOnlyList<string> columns, StreamWriter writer)
    {
        Path = path;
        Columns = columns;
        _writer = writer;
    }

    /// <summary>File path.</summary>
    public string Path { get; }

    /// <summary>Column names, in order.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Creates (or truncates) the file and writes the header.</summary>
    public static CsvLog Create(string path, IReadOnlyList<string> columns) => Open(path, columns, keepRow: null);

    /// <summary>
    /// Opens the file for a resumed run: existing rows for which <paramref name="keepRow"/> is true are kept, the
    /// rest (logged after the checkpoint being resumed) are dropped. A missing file or a different header starts fresh.
    /// </summary>
    public static CsvLog Open(string path, IReadOnlyList<string> columns, Func<IReadOnlyList<string>, bool>? keepRow)
    {
        var header = string.Join(',', columns);
        var kept = new List<string>();
        if (keepRow is not null && File.Exists(path))
        {
            var lines = File.ReadAllLines(path);
            if (lines.Length > 0 && lines[0] == header)
            {
                kept.AddRange(lines.Skip(1).Where(l => Keep(l, columns.Count, keepRow)));
            }
        }
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        // The kept rows go to a temporary file that replaces the log in one rename, so a kill while a resumed run
        // opens its log leaves either the old rows or the new ones, never a truncated file.
        var temp = path + ".tmp-" + Environment.ProcessId;
        using (var w = new StreamWriter(temp, append: false, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            w.WriteLine(header);
            foreach (var line in kept)
            {
                w.WriteLine(line);
            }
        }
        File.Move(temp, path, overwrite: true);
        var writer = new StreamWriter(path, append: true, new UTF8Encoding(false)) { NewLine = "\n" };
        return new CsvLog(path, columns, writer);
    }

    // A row torn by a kill mid-write has too few cells or a cut-off number: it is dropped (the resumed run writes it
    // again), never a reason to fail.
    private static bool Keep(string line, int columns, Func<IReadOnlyList<string>, bool> keepRow)
    {
        var cells = line.Split(',');
        if (line.Length == 0 || cells.Length != columns
            || cells.Any(c => c.Length > 0 && !double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
        {
            return false;
        }
        try
        {
            return keepRow(cells);
        }
        catch (FormatException)
        {
            return false;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>Appends one row; numbers are written in the invariant culture with round-trip precision.</summary>
    public void Append(params object?[] values)
    {
        if (values.Length != Columns.Count)
        {
            throw new ArgumentException($"{Path}: row has {values.Length} values but the header has {Columns.Count} columns.", nameof(values));
        }
        _writer.WriteLine(string.Join(',', values.Select(Format)));
        _writer.Flush();
    }

    /// <summary>Reads a CSV written by this class into rows of column → text.</summary>
    public static List<Dictionary<string, string>> Read(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        if (lines.Length == 0)
        {
            return [];
        }
        var header = lines[0].Split(',');
        return lines.Skip(1).Select(l =>
        {
            var cells = l.Split(',');
            var row = new Dictionary<string, string>();
            for (var i = 0; i < header.Length; i++)
            {
                row[header[i]] = i < cells.Length ? cells[i] : "";
            }
            return row;
        }).ToList();
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        double d => double.IsNaN(d) ? "" : d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <inheritdoc />
    public void Dispose() => _writer.Dispose();
}
