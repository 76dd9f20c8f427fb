using TorchSharp;
using VkD.Interop.Onnx;
using static TorchSharp.torch;
using static VkD.Tests.Interop.Onnx.OnnxTestSupport;

namespace VkD.Tests.Interop.Onnx;

/// <summary>TorchSharp layers exported by the emitters and run by ONNX Runtime give TorchSharp's outputs.</summary>
[Collection("Onnx")]
public sealed class OnnxLayerExportTests
{
    private static nn.Module<Tensor, Tensor> ConvNet()
    {
        var bn = nn.BatchNorm2d(8);
        var gn = nn.GroupNorm(4, 16);
        using (no_grad())
        {
            // Non-trivial running statistics, so eval-mode batch norm is really exercised.
            bn.running_mean!.uniform_(-0.5, 0.5);
            bn.running_var!.uniform_(0.5, 2.0);
            bn.weight!.uniform_(0.5, 1.5);
            bn.bias!.uniform_(-0.5, 0.5);
            // TorchSharp 0.107's nn.GroupNorm leaves its affine parameters uninitialised (torch.empty: garbage, at
            // times NaN, measured 2000 of 2000 constructions not equal to ones/zeros), so set them explicitly.
            gn.weight!.uniform_(0.5, 1.5);
            gn.bias!.uniform_(-0.5, 0.5);
        }
        return nn.Sequential(
            ("stem", nn.Conv2d(3, 8, 3, stride: 2, padding: 1, bias: false)),
            ("bn", bn),
            ("act", nn.ReLU()),
            ("pool", nn.MaxPool2d(3, stride: 2, padding: 1)),
            ("dw", nn.Conv2d(8, 8, 3, padding: 2, dilation: 2, groups: 4)),
            ("gelu", nn.GELU()),
            ("pw", nn.Conv2d(8, 16, 1)),
            ("gn", gn),
            ("silu", nn.SiLU()),
            ("avg", nn.AvgPool2d(2, stride: 1, padding: 1, count_include_pad: false)),
            ("hs", nn.Hardswish()),
            ("relu6", nn.ReLU6()),
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flat", nn.Flatten()),
            ("drop", nn.Dropout(0.5)),
            ("ln", nn.LayerNorm(16)),
            ("fc", nn.Linear(16, 10)),
            ("sig", nn.Hardsigmoid()),
            ("softmax", nn.Softmax(1)));
    }

    [Theory]
    [InlineData(17)]
    [InlineData(20)]
    public void Conv_net_of_TorchSharp_layers_matches_TorchSharp(int opset)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var model = ConvNet();
        var x = randn(2, 3, 32, 32);
        model.eval();
        var expected = model.forward(x);
        model.train();
        var path = TempFile();
        try
        {
            OnnxExporter.ExportModule(model, path, new OnnxExportOptions { Opset = opset, InputSize = 32 });
            var actual = Run(path, x, "output")["output"];

            Assert.True(model.training, "the exporter restores training mode");
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(MaxAbsDiff(expected, actual) < 1e-5, $"max diff {MaxAbsDiff(expected, actual)} nan torch {expected.isnan().any().item<bool>()} ort {actual.isnan().any().item<bool>()} params {string.Join(",", model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(model.named_buffers()).Where(p => p.Item2.isnan().any().item<bool>()).Select(p => p.Item1))}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(17, false)]
    [InlineData(17, true)]
    [InlineData(20, true)]
    public void Token_mlp_with_GELU_variants_matches_TorchSharp(int opset, bool tanh)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        // A ViT-style MLP on [B, C*H, W] "tokens" (Linear over the last dim of a 3-d input).
        using var model = nn.Sequential(
            ("norm", nn.LayerNorm(8)),
            ("fc1", nn.Linear(8, 32)),
            ("act", nn.GELU(tanh ? TorchSharp.Modules.GELU.Approximate.tanh : TorchSharp.Modules.GELU.Approximate.none)),
            ("fc2", nn.Linear(32, 8)),
            ("tanh", nn.Tanh()));
        model.eval();
        var x = randn(2, 3, 8, 8);
        var expected = model.forward(x);
        var path = TempFile();
        try
        {
            OnnxExporter.ExportModule(model, path, new OnnxExportOptions { Opset = opset, InputSize = 8 });
            var actual = Run(path, x, "output")["output"];
            Assert.True(MaxAbsDiff(expected, actual) < 1e-5, $"max diff {MaxAbsDiff(expected, actual)}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Unknown_module_type_names_its_path_and_type()
    {
        using var model = nn.Sequential(("body", nn.Sequential(("up", nn.Upsample(scale_factor: [2.0, 2.0])))));
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExporter.ExportModule(model, TempFile()));
        Assert.Contains("'body.up'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Upsample", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Opset_outside_the_supported_range_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxGraphBuilder("m", 11));
    }
}
