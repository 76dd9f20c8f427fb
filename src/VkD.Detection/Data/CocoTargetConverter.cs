using VkD.Detection.Evaluation;

namespace VkD.Detection.Data;

/// <summary>
/// DETR/ViDT's <c>ConvertCocoPolysToMask</c> without masks: drops crowd annotations, turns [x, y, w, h] into
/// [x1, y1, x2, y2] in float32, clamps to the image and drops boxes with no width or height.
/// </summary>
public static class CocoTargetConverter
{
    /// <summary>Builds the target of one image of size <paramref name="width"/> x <paramref name="height"/> from its
    /// annotations in file order.</summary>
    public static DetectionTarget Convert(long imageId, IEnumerable<CocoAnnotation> annotations, int width, int height)
    {
        var kept = annotations.Where(a => !a.IsCrowd).ToList();
        var boxes = new float[kept.Count * 4];
        var keep = new bool[kept.Count];
        for (var i = 0; i < kept.Count; i++)
        {
            var b = kept[i].Bbox;
            float x = (float)b.X, y = (float)b.Y;
            // boxes[:, 2:] += boxes[:, :2] in float32, then clamp x to [0, w] and y to [0, h].
            var x2 = (float)b.Width + x;
            var y2 = (float)b.Height + y;
            boxes[(i * 4) + 0] = Math.Clamp(x, 0f, width);
            boxes[(i * 4) + 1] = Math.Clamp(y, 0f, height);
            boxes[(i * 4) + 2] = Math.Clamp(x2, 0f, width);
            boxes[(i * 4) + 3] = Math.Clamp(y2, 0f, height);
            keep[i] = boxes[(i * 4) + 3] > boxes[(i * 4) + 1] && boxes[(i * 4) + 2] > boxes[(i * 4) + 0];
        }
        var target = new DetectionTarget(imageId, boxes, kept.Select(a => a.CategoryId).ToArray(),
            kept.Select(a => (float)a.Area).ToArray(), new bool[kept.Count], (height, width), (height, width));
        return target.With(boxes, target.Area, (height, width), keep);
    }
}
