namespace VkD.Detection.Training;

/// <summary>
/// Where a detection training run's data is under ViDT's <c>--coco_path</c>: COCO's layout (as ViDT's
/// <c>datasets/coco.py</c>: <c>annotations/instances_train2017.json</c> with <c>train2017/</c>,
/// <c>annotations/instances_val2017.json</c> with <c>val2017/</c>), or two <c>vkd data make-detection</c> sets in
/// <c>train/</c> and <c>val/</c> (each an <c>annotations.json</c> with its images relative to that folder).
/// </summary>
/// <param name="TrainAnnotations">Training ground truth.</param>
/// <param name="TrainImages">Folder the training <c>file_name</c> paths are relative to.</param>
/// <param name="ValAnnotations">Val ground truth.</param>
/// <param name="ValImages">Folder the val <c>file_name</c> paths are relative to.</param>
public sealed record DetectionDataLayout(string TrainAnnotations, string TrainImages, string ValAnnotations, string ValImages)
{
    /// <summary>Finds the layout under <paramref name="cocoPath"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder, or an image folder next to its annotations, is missing.</exception>
    /// <exception cref="FileNotFoundException">Neither layout is there (every path looked for is named).</exception>
    public static DetectionDataLayout Resolve(string cocoPath)
    {
        ArgumentNullException.ThrowIfNull(cocoPath);
        if (!Directory.Exists(cocoPath))
        {
            throw new DirectoryNotFoundException($"COCO folder (--coco_path) not found: {cocoPath}");
        }
        var annotations = Path.Combine(cocoPath, "annotations");
        var cocoTrain = Path.Combine(annotations, "instances_train2017.json");
        var cocoVal = Path.Combine(annotations, "instances_val2017.json");
        if (File.Exists(cocoTrain) || File.Exists(cocoVal))
        {
            var trainImages = Path.Combine(cocoPath, "train2017");
            var valImages = Path.Combine(cocoPath, "val2017");
            foreach (var file in new[] { cocoTrain, cocoVal }.Where(f => !File.Exists(f)))
            {
                throw new FileNotFoundException($"COCO layout under --coco_path {cocoPath}: {file} is missing (training needs both splits).", file);
            }
            foreach (var (file, folder) in new[] { (cocoTrain, trainImages), (cocoVal, valImages) }.Where(x => !Directory.Exists(x.Item2)))
            {
                throw new DirectoryNotFoundException($"COCO images not found: {folder} (next to {file}).");
            }
            return new DetectionDataLayout(cocoTrain, trainImages, cocoVal, valImages);
        }
        var generatedTrain = Path.Combine(cocoPath, "train", "annotations.json");
        var generatedVal = Path.Combine(cocoPath, "val", "annotations.json");
        if (File.Exists(generatedTrain) && File.Exists(generatedVal))
        {
            return new DetectionDataLayout(generatedTrain, Path.GetDirectoryName(generatedTrain)!, generatedVal, Path.GetDirectoryName(generatedVal)!);
        }
        throw new FileNotFoundException(
            $"No training data under --coco_path {cocoPath}: looked for {cocoTrain} and {cocoVal} (COCO's layout, images in train2017/ and val2017/), " +
            $"and for {generatedTrain} and {generatedVal} (two vkd data make-detection sets).", File.Exists(generatedTrain) ? generatedVal : generatedTrain);
    }
}
