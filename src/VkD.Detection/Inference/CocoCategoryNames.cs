namespace VkD.Detection.Inference;

/// <summary>COCO 2017's 80 category names at their ids (1..90 with gaps), the labels of a ViDT trained on COCO
/// (<c>num_classes = 91</c> over the raw ids).</summary>
public static class CocoCategoryNames
{
    private static readonly string[] Names =
    [
        "", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "", "backpack", "umbrella", "", "", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
        "tennis racket", "bottle", "", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
        "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
        "potted plant", "bed", "", "dining table", "", "", "toilet", "", "tv", "laptop", "mouse", "remote", "keyboard",
        "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "", "book", "clock", "vase", "scissors",
        "teddy bear", "hair drier", "toothbrush",
    ];

    /// <summary>Number of ids (0..90), ViDT's <c>num_classes</c> for COCO.</summary>
    public static int Count => Names.Length;

    /// <summary>The name of COCO category <paramref name="id"/>, or null for an id COCO leaves unused.</summary>
    public static string? Get(long id) => id >= 0 && id < Names.Length && Names[id].Length > 0 ? Names[id] : null;
}
