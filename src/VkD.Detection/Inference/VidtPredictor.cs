using TorchSharp;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Detection.Models;
using static TorchSharp.torch;

namespace VkD.Detection.Inference;

/// <summary>
/// One image through a ViDT detector as its evaluation sees it: ViDT's val resize (shortest side
/// <see cref="EvalSize"/>), ToTensor and Normalize, the model, and <see cref="VidtPostProcess"/> at the image's own size.
/// </summary>
public sealed class VidtPredictor
{
    private readonly VidtDetector _model;
    private readonly IDetectionTransform _transform;

    /// <summary>Wraps <paramref name="model"/> (switched to eval mode).</summary>
    public VidtPredictor(VidtDetector model, int evalSize = 800)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(evalSize, model.MinImageSide);
        _model = model;
        _model.eval();
        EvalSize = evalSize;
        _transform = VidtTransforms.Val(evalSize);
    }

    /// <summary>Shortest side of the resize.</summary>
    public int EvalSize { get; }

    /// <summary>The detections with score ≥ <paramref name="threshold"/> among ViDT's top
    /// <paramref name="topK"/>, best first, boxes in the image's pixels.</summary>
    /// <exception cref="ArgumentException">The resized image is smaller than the model accepts.</exception>
    public IReadOnlyList<CocoDetection> Predict(DetectionImage image, double threshold = 0.3, int topK = 100, long imageId = 0)
    {
        ArgumentNullException.ThrowIfNull(image);
        var target = CocoTargetConverter.Convert(imageId, [], image.Width, image.Height);
        var (resized, resizedTarget) = _transform.Apply(image, target, new Random(0));
        using var batch = new DetectionBatch([DetectionExample.Create(resized, resizedTarget)]);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = _model.parameters().First().device;
        using var outputs = _model.forward(batch.Images.to(device), batch.Mask.to(device));
        var detections = VidtPostProcess.ToCocoDetections(outputs.PredLogits, outputs.PredBoxes, [(image.Height, image.Width)], [imageId], topK);
        return detections.Where(d => d.Score >= threshold).ToList();
    }
}
