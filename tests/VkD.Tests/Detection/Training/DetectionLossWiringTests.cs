using VkD.Detection.Models;
using VkD.Detection.Training;
using VkD.Distillation.Distiller;
using VkD.Tests.Detection.Models;
using static TorchSharp.torch;

namespace VkD.Tests.Detection.Training;

/// <summary>A detection step's loss from real <see cref="VidtDetector"/> outputs: the set criterion plus either
/// distillation, joined into one <see cref="LossTerms"/>, with gradients reaching the student and its projectors only.</summary>
public sealed class DetectionLossWiringTests
{
    private static VidtConfig Reduced(int embed) => new(VidtSwinRamTests.Reduced with { EmbedDim = embed }, NumClasses: 5, HiddenDim: 32,
        NHeads: 4, DecLayers: 2, DimFeedforward: 64, DecNPoints: 2);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Criterion_and_distillation_from_detector_outputs_give_one_loss(bool vkd)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var student = new VidtDetector(Reduced(4));
        using var teacher = new VidtDetector(Reduced(8));
        teacher.eval();
        var images = randn(2, 3, 64, 64);
        var mask = zeros(2, 64, 64, ScalarType.Bool);
        mask[1, .., 48..] = true;
        var targets = new List<BoxTargets>
        {
            new(tensor(new long[] { 1, 4 }), tensor(new[] { 0.3f, 0.3f, 0.2f, 0.3f, 0.6f, 0.5f, 0.4f, 0.2f }, [2, 4])),
            new(tensor(new long[] { 0 }), tensor(new[] { 0.4f, 0.5f, 0.3f, 0.3f }, [1, 4])),
        };
        var outputs = student.forward(images, mask);
        VidtOutputs teacherOutputs;
        using (no_grad())
        {
            teacherOutputs = teacher.forward(images, mask);
        }
        var criterion = new SetCriterion(numClasses: 5);
        using var distiller = vkd ? VidtDistillation.CreateVkd(width: 32) : VidtDistillation.CreateTokenMatching(neckEntries: 3);
        var set = criterion.Compute(outputs, targets);
        var inputs = new LossInputs(VidtDistillation.AddFeatures(new FeatureSet("student"), outputs),
            VidtDistillation.AddFeatures(new FeatureSet("teacher"), teacherOutputs), null);
        var distil = distiller.Compute(inputs);
        var expectedTotal = set.Losses.Total.item<float>() + distil.Total.item<float>();
        using var terms = LossTermsConcatenation.Concat(set.Losses, distil);

        Assert.Equal(SetCriterion.TermNames(3).Concat(distiller.TermNames), terms.Terms.Select(t => t.Name));
        Assert.Equal(expectedTotal, terms.Total.item<float>(), 4);
        Assert.True(float.IsFinite(terms.Total.item<float>()));
        terms.Total.backward();
        Assert.All(student.parameters().Where(p => p.grad is not null), p => Assert.True(p.grad!.isfinite().all().item<bool>()));
        var classHead = student.named_parameters().First(p => p.name.StartsWith("class_embed.2.", StringComparison.Ordinal));
        Assert.True(classHead.parameter.grad!.abs().sum().item<float>() > 0);
        var backbone = student.named_parameters().First(p => p.name.StartsWith("backbone.", StringComparison.Ordinal));
        Assert.True(backbone.parameter.grad!.abs().sum().item<float>() > 0, "the distillation must reach the backbone");
        Assert.All(teacher.parameters(), p => Assert.Null(p.grad));
        if (vkd)
        {
            Assert.All(distiller.Projectors.Keys, name => Assert.True(
                distiller.named_parameters().First(p => p.name == name + ".projector.parametrizations.weight.original").parameter.grad!.abs().sum().item<float>() > 0, name));
        }
    }
}
