using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Detection.Evaluation;

/// <summary>
/// ViDT's <c>PostProcess</c> + <c>CocoEvaluator.prepare_for_coco_detection</c>: turns raw model outputs into COCO
/// results for <see cref="CocoEvaluator"/> (in memory) or <see cref="CocoResultsFile"/>.
/// </summary>
public static class VidtPostProcess
{
    /// <summary>Sigmoid scores, top-<paramref name="topK"/> over all (query, class) pairs per image, boxes
    /// cxcywh → xyxy scaled by the original size (float32), then [x, y, w, h].</summary>
    /// <param name="logits">Class logits [B, Q, C] (C = 91 for ViDT on COCO: the label is the raw category id).</param>
    /// <param name="boxes">Normalised boxes [B, Q, 4] in [cx, cy, w, h].</param>
    /// <param name="originalSizes">Each image's (height, width) before any transform (<c>orig_size</c>).</param>
    /// <param name="imageIds">Each image's COCO id.</param>
    /// <param name="topK">Detections kept per image (ViDT: 100).</param>
    /// <exception cref="ArgumentException">Shapes disagree.</exception>
    public static List<CocoDetection> ToCocoDetections(Tensor logits, Tensor boxes,
        IReadOnlyList<(int Height, int Width)> originalSizes, IReadOnlyList<long> imageIds, int topK = 100)
    {
        if (logits.ndim != 3 || boxes.ndim != 3 || boxes.shape[2] != 4 || boxes.shape[0] != logits.shape[0] || boxes.shape[1] != logits.shape[1])
        {
            throw new ArgumentException($"Expected logits [B, Q, C] and boxes [B, Q, 4]; got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", boxes.shape)}].");
        }
        var batch = (int)logits.shape[0];
        if (originalSizes.Count != batch || imageIds.Count != batch)
        {
            throw new ArgumentException($"{batch} images in the outputs but {originalSizes.Count} sizes and {imageIds.Count} ids.");
        }
        using var scope = torch.NewDisposeScope();
        var classes = logits.shape[2];
        var prob = logits.detach().to(float32).cpu().sigmoid();
        var k = (int)Math.Min(topK, logits.shape[1] * classes);
        var (values, indexes) = torch.topk(prob.view(batch, -1), k, dim: 1);
        var query = indexes.div(classes, rounding_mode: RoundingMode.floor);
        var labels = indexes.remainder(classes);
        var b = boxes.detach().to(float32).cpu();
        var (cx, cy, w, h) = (b.select(2, 0), b.select(2, 1), b.select(2, 2), b.select(2, 3));
        var xyxy = torch.stack([cx - (0.5f * w), cy - (0.5f * h), cx + (0.5f * w), cy + (0.5f * h)], dim: -1);
        var picked = torch.gather(xyxy, 1, query.unsqueeze(-1).repeat(1, 1, 4));
        var scale = torch.tensor(originalSizes.SelectMany(s => new float[] { s.Width, s.Height, s.Width, s.Height }).ToArray(), [batch, 4L]);
        var scaled = picked * scale.unsqueeze(1);
        var x0 = scaled.select(2, 0);
        var y0 = scaled.select(2, 1);
        var xywh = torch.stack([x0, y0, scaled.select(2, 2) - x0, scaled.select(2, 3) - y0], dim: -1).contiguous();

        var boxData = xywh.data<float>().ToArray();
        var scoreData = values.contiguous().data<float>().ToArray();
        var labelData = labels.contiguous().data<long>().ToArray();
        var results = new List<CocoDetection>(batch * k);
        for (var i = 0; i < batch; i++)
        {
            for (var j = 0; j < k; j++)
            {
                var n = (i * k) + j;
                results.Add(new CocoDetection(imageIds[i], labelData[n],
                    new BoxXywh(boxData[n * 4], boxData[(n * 4) + 1], boxData[(n * 4) + 2], boxData[(n * 4) + 3]), scoreData[n]));
            }
        }
        return results;
    }
}
