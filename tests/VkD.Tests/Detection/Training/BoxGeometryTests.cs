using VkD.Detection.Training;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;
using static VkD.Tests.Detection.Training.DetectionTrainingFixtures;

namespace VkD.Tests.Detection.Training;

/// <summary>The box utilities against ViDT's util/box_ops.py (fixture boxes.pt).</summary>
public sealed class BoxGeometryTests
{
    [Fact]
    public void Conversions_iou_and_generalized_iou_match_vidt_box_ops()
    {
        using var f = Fixture.Load(Part, "boxes");
        using var scope = NewDisposeScope();
        AssertClose(f["cxcywh1"], BoxGeometry.XyxyToCxcywh(f["xyxy1"]), 1e-7, "xyxy to cxcywh");
        AssertClose(f["back1"], BoxGeometry.CxcywhToXyxy(f["cxcywh1"]), 1e-7, "cxcywh to xyxy");
        AssertClose(f["area1"], BoxGeometry.Area(f["xyxy1"]), 1e-7, "area");
        var (iou, union) = BoxGeometry.Iou(f["xyxy1"], f["xyxy2"]);
        AssertClose(f["iou"], iou, 1e-6, "iou");
        AssertClose(f["union"], union, 1e-7, "union");
        var giou = BoxGeometry.GeneralizedIou(f["xyxy1"], f["xyxy2"]);
        AssertClose(f["giou"], giou, 1e-6, "giou");
        Assert.Equal(1.0, giou[0, 0].item<float>(), 6);
    }

    [Fact]
    public void Generalized_iou_is_differentiable()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new[] { 0.1, 0.1, 0.5, 0.6 }, [1, 4]).requires_grad_();
        var b = tensor(new[] { 0.3, 0.2, 0.9, 0.7 }, [1, 4]);
        BoxGeometry.GeneralizedIou(a, b).sum().backward();
        Assert.NotNull(a.grad);
        Assert.True(a.grad!.abs().sum().item<double>() > 0);
    }

    [Fact]
    public void Degenerate_boxes_are_refused()
    {
        using var scope = NewDisposeScope();
        var good = tensor(new[] { 0.1f, 0.1f, 0.5f, 0.6f }, [1, 4]);
        var bad = tensor(new[] { 0.6f, 0.1f, 0.5f, 0.6f }, [1, 4]);
        var e = Assert.Throws<ArgumentException>(() => BoxGeometry.GeneralizedIou(good, bad));
        Assert.Contains("boxes2", e.Message);
        Assert.Throws<ArgumentException>(() => BoxGeometry.CxcywhToXyxy(zeros(3, 5)));
        Assert.Throws<ArgumentException>(() => BoxGeometry.Iou(zeros(2, 3, 4), good));
    }
}
