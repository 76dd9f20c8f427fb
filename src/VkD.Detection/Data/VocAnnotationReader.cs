using System.Globalization;
using System.Xml.Linq;
using VkD.Detection.Evaluation;

namespace VkD.Detection.Data;

/// <summary>
/// Reads PASCAL VOC XML annotation files into a <see cref="CocoDataset"/>, so VOC data goes through the same
/// pipeline and evaluator. Category ids are positions in the class-name list (VOC's <c>class_names.txt</c> order);
/// boxes become [xmin, ymin, xmax - xmin, ymax - ymin] and the area is the box area.
/// </summary>
public static class VocAnnotationReader
{
    /// <summary>Converts VOC XML files (image ids 0, 1, ... in the given order).</summary>
    /// <param name="xmlFiles">Annotation files.</param>
    /// <param name="classNames">Class names; an object's category id is its name's index here.</param>
    /// <param name="keepDifficult">Keep objects marked <c>difficult</c> (dropped by default, as in VOC evaluation).</param>
    /// <exception cref="InvalidDataException">A file lacks size or box fields, or names a class not in the list.</exception>
    public static CocoDataset ReadToCoco(IEnumerable<string> xmlFiles, IReadOnlyList<string> classNames, bool keepDifficult = false)
    {
        var classIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < classNames.Count; i++)
        {
            classIndex[classNames[i]] = i;
        }
        var images = new List<CocoImage>();
        var annotations = new List<CocoAnnotation>();
        var imageId = 0L;
        foreach (var file in xmlFiles)
        {
            var root = XDocument.Load(file).Root ?? throw new InvalidDataException($"{file}: empty XML.");
            var size = root.Element("size") ?? throw new InvalidDataException($"{file}: missing <size>.");
            var width = (int)Number(file, size, "width");
            var height = (int)Number(file, size, "height");
            var fileName = root.Element("filename")?.Value ?? Path.ChangeExtension(Path.GetFileName(file), ".jpg");
            images.Add(new CocoImage(imageId, fileName, width, height));
            foreach (var obj in root.Elements("object"))
            {
                var name = obj.Element("name")?.Value.Trim() ?? throw new InvalidDataException($"{file}: <object> without <name>.");
                if (!classIndex.TryGetValue(name, out var category))
                {
                    throw new InvalidDataException($"{file}: class '{name}' is not in the class-name list.");
                }
                var difficult = obj.Element("difficult")?.Value.Trim() is "1" or "true";
                if (difficult && !keepDifficult)
                {
                    continue;
                }
                var box = obj.Element("bndbox") ?? throw new InvalidDataException($"{file}: <object> '{name}' without <bndbox>.");
                var xmin = Number(file, box, "xmin");
                var ymin = Number(file, box, "ymin");
                var xmax = Number(file, box, "xmax");
                var ymax = Number(file, box, "ymax");
                var bbox = BoxXywh.FromXyxy(xmin, ymin, xmax, ymax);
                annotations.Add(new CocoAnnotation(annotations.Count + 1, imageId, category, bbox, bbox.Width * bbox.Height, false));
            }
            imageId++;
        }
        var categories = classNames.Select((n, i) => new CocoCategory(i, n, null)).ToList();
        return new CocoDataset(images, annotations, categories, "VOC XML");
    }

    private static double Number(string file, XElement parent, string name)
    {
        var text = parent.Element(name)?.Value ?? throw new InvalidDataException($"{file}: missing <{name}> in <{parent.Name}>.");
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new InvalidDataException($"{file}: <{name}> is not a number ('{text}').");
    }
}
