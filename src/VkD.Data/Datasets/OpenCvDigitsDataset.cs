using VkD.Data.Imaging;

namespace VkD.Data.Datasets;

/// <summary>OpenCV's sample <c>digits.png</c>: a 2000x1000 grey image of 50 rows x 100 columns of 20x20 cells; rows
/// 5k..5k+4 hold digit k (500 per class). Deterministic split: in every row, columns 0..89 are train and 90..99 are
/// val (4500 / 500 images, 450 / 50 per class). Images are ordered row by row, column by column.</summary>
public sealed class OpenCvDigitsDataset : ArrayImageDataset
{
    private const int Cell = 20, Columns = 100, Rows = 50, TrainColumns = 90;

    private OpenCvDigitsDataset(byte[] pixels, int[] labels, int[] selection, string source)
        : base(pixels, labels, Cell, Cell, 1, IdxDataset.DigitClasses, source, selection)
    {
    }

    /// <summary>Loads the split from <paramref name="path"/> (the PNG, or a folder holding digits.png).</summary>
    public static OpenCvDigitsDataset Load(string path, DataSplit split)
    {
        if (Directory.Exists(path))
        {
            path = Path.Combine(path, "digits.png");
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"OpenCV digits image '{path}' does not exist.", path);
        }
        var sheet = ImageDecoder.DecodeFile(path, forceRgb: false).ToGrey();
        if (sheet.Width != Columns * Cell || sheet.Height != Rows * Cell)
        {
            throw new InvalidDataException($"OpenCV digits image '{path}' is {sheet.Width}x{sheet.Height}, expected {Columns * Cell}x{Rows * Cell} (50x100 cells of 20x20).");
        }
        var pixels = new byte[Rows * Columns * Cell * Cell];
        var labels = new int[Rows * Columns];
        var selection = new List<int>();
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Columns; c++)
            {
                int i = r * Columns + c;
                labels[i] = r / 5;
                for (int y = 0; y < Cell; y++)
                {
                    Buffer.BlockCopy(sheet.Data, (r * Cell + y) * sheet.Width + c * Cell, pixels, (i * Cell + y) * Cell, Cell);
                }
                if ((c < TrainColumns) == (split == DataSplit.Train))
                {
                    selection.Add(i);
                }
            }
        }
        return new OpenCvDigitsDataset(pixels, labels, selection.ToArray(), path);
    }
}
