using System.Globalization;
using System.IO.Compression;

namespace VkD.Data.Datasets;

/// <summary>scikit-learn's <c>digits.csv.gz</c> (1797 rows of 64 pixel values 0..16 then the label 0..9; gzip or
/// plain). Pixels are scaled to bytes as <c>round(v * 255 / 16)</c>, giving 8x8 grey images. There is no official
/// split: row <c>i</c> belongs to val when <c>i % 5 == 4</c> (1437 train / 360 val), which keeps every class in both.</summary>
public sealed class DigitsCsvDataset : ArrayImageDataset
{
    private DigitsCsvDataset(byte[] pixels, int[] labels, int[] selection, string source)
        : base(pixels, labels, 8, 8, 1, IdxDataset.DigitClasses, source, selection)
    {
    }

    /// <summary>Loads the split of <paramref name="path"/> (the file, or a folder holding digits.csv[.gz]).</summary>
    public static DigitsCsvDataset Load(string path, DataSplit split)
    {
        if (Directory.Exists(path))
        {
            var gz = Path.Combine(path, "digits.csv.gz");
            path = File.Exists(gz) ? gz : Path.Combine(path, "digits.csv");
        }
        var raw = IdxDataset.ReadAll(path);
        string text;
        using (var ms = new MemoryStream(raw))
        {
            text = new StreamReader(ms).ReadToEnd();
        }
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var pixels = new byte[lines.Length * 64];
        var labels = new int[lines.Length];
        for (int r = 0; r < lines.Length; r++)
        {
            var fields = lines[r].Split(',');
            if (fields.Length != 65)
            {
                throw new InvalidDataException($"Digits CSV '{path}' line {r + 1} has {fields.Length} fields, expected 65 (64 pixels + label).");
            }
            for (int k = 0; k < 64; k++)
            {
                if (!double.TryParse(fields[k], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < 0 || v > 16)
                {
                    throw new InvalidDataException($"Digits CSV '{path}' line {r + 1} field {k + 1} is '{fields[k]}', expected a number in 0..16.");
                }
                pixels[r * 64 + k] = (byte)Math.Round(v * 255.0 / 16.0, MidpointRounding.ToEven);
            }
            if (!double.TryParse(fields[64], NumberStyles.Float, CultureInfo.InvariantCulture, out var label) || label < 0 || label > 9 || label != Math.Floor(label))
            {
                throw new InvalidDataException($"Digits CSV '{path}' line {r + 1} has label '{fields[64]}', expected 0..9.");
            }
            labels[r] = (int)label;
        }
        var selection = Enumerable.Range(0, lines.Length).Where(i => (i % 5 == 4) == (split == DataSplit.Val)).ToArray();
        return new DigitsCsvDataset(pixels, labels, selection, path);
    }
}
