using TorchSharp;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.Tests.Models;

/// <summary>Models behave as TorchSharp modules inside larger modules: keys stay PyTorch's when registered as a
/// child (TorchSharp also registers fields by name), and dtype moves reach the fields used in forward.</summary>
public class ModuleBehaviourTests
{
    [Theory]
    [InlineData("deit_nano_convstem_distilled_32")]
    [InlineData("deit_nano_distilled_patch4_32")]
    [InlineData("regnety_002")]
    [InlineData("resnet18")]
    [InlineData("resnet8")]
    [InlineData("swin_nano_patch4_window7_224")]
    public void Registered_as_a_child_the_keys_are_the_models_keys_with_a_prefix(string name)
    {
        var model = ModelRegistry.Create(name, new ModelOptions(NumClasses: 10));
        var own = model.state_dict().Keys.Select(k => "student." + k).Order().ToList();
        using var parent = new Parent(model);
        var got = parent.state_dict().Keys.Order().ToList();
        Assert.True(own.SequenceEqual(got), $"counts {own.Count} {got.Count} first {string.Join(",", got.Take(5))} extra: {string.Join(", ", got.Except(own).Take(8))}; missing: {string.Join(", ", own.Except(got).Take(8))}");
        Assert.Equal(model.parameters().Count(), parent.parameters().Count());
    }

    [Fact]
    public void Moving_to_float64_updates_every_tensor_forward_uses()
    {
        using var model = ModelRegistry.Create("deit_nano_convstem_distilled_32", new ModelOptions(NumClasses: 4));
        model.eval();
        model.to(float64);
        using var noGrad = no_grad();
        using var x = torch.randn(2, 3, 32, 32, dtype: float64);
        using var y = model.forward(x);
        Assert.Equal(float64, y.dtype);
        Assert.All(model.parameters(), p => Assert.Equal(float64, p.dtype));
    }

    /// <summary>A distiller-like wrapper that owns a student model as a registered child.</summary>
    private sealed class Parent : nn.Module<Tensor, Tensor>
    {
        private readonly ClassifierModel student;

        public Parent(ClassifierModel model) : base(nameof(Parent))
        {
            student = model;
            register_module("student", student);
        }

        public override Tensor forward(Tensor x) => student.forward(x);
    }
}
