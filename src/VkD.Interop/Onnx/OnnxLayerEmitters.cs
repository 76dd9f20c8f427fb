using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using G = VkD.Interop.Onnx.OnnxGraphBuilder;

namespace VkD.Interop.Onnx;

/// <summary>
/// ONNX emitters for TorchSharp's own layers in eval mode: Conv2d, BatchNorm2d, Linear, LayerNorm, GroupNorm, the
/// activations (ReLU, ReLU6, GELU exact/tanh, SiLU, Sigmoid, Tanh, Hardswish, Hardsigmoid), pooling (MaxPool2d,
/// AvgPool2d, AdaptiveAvgPool2d to 1x1), Flatten, Softmax, Dropout/Identity (no-ops) and Sequential.
/// </summary>
public static class OnnxLayerEmitters
{
    /// <summary>Writes <paramref name="module"/> if it is one of the layers above, else returns null.</summary>
    public static string? TryEmit(OnnxExportContext ctx, nn.Module module, string x, string path)
    {
        var g = ctx.Graph;
        switch (module)
        {
            case Sequential seq:
                foreach (var (name, child) in seq.named_children())
                {
                    x = ctx.Emit(child, x, OnnxExportContext.Join(path, name));
                }
                return x;
            case Identity:
            case Dropout:
                return x;
            case Conv2d conv:
                return Conv(ctx, conv, x, path);
            case BatchNorm2d bn:
                return BatchNorm(ctx, bn, x, path);
            case Linear linear:
                return Linear(ctx, linear.weight, linear.bias, x, path);
            case LayerNorm ln:
                return LayerNorm(ctx, ln, x, path);
            case GroupNorm gn:
                return GroupNorm(ctx, gn, x, path);
            case ReLU:
                return g.Node("Relu", path, [x]);
            case ReLU6:
                return g.Node("Clip", path, [x, g.FloatConstant(0f), g.FloatConstant(6f)]);
            case GELU gelu:
                return Gelu(g, x, path, gelu.approximate == GELU.Approximate.tanh);
            case SiLU:
                return g.Node("Mul", path, [x, g.Node("Sigmoid", path + ".sigmoid", [x])]);
            case Sigmoid:
                return g.Node("Sigmoid", path, [x]);
            case Tanh:
                return g.Node("Tanh", path, [x]);
            case Hardswish:
                return g.Node("HardSwish", path, [x]);
            case Hardsigmoid:
                return g.Node("HardSigmoid", path, [x], G.Float("alpha", 1f / 6f), G.Float("beta", 0.5f));
            case Softmax sm:
                return g.Node("Softmax", path, [x], G.Int("axis", sm.dim));
            case Flatten f:
                if (f.start_dim == 1 && f.end_dim == -1)
                {
                    return g.Node("Flatten", path, [x], G.Int("axis", 1));
                }
                throw new NotSupportedException($"ONNX export: Flatten '{path}' over dims {f.start_dim}..{f.end_dim}; only 1..-1 is supported.");
            case MaxPool2d mp:
                return Pool(g, "MaxPool", x, path, mp.kernel_size, mp.stride ?? mp.kernel_size, mp.padding ?? [0, 0],
                    mp.ceil_mode, mp.dilation ?? [1, 1], null);
            case AvgPool2d ap:
                if (ap.divisor_override is not null)
                {
                    throw new NotSupportedException($"ONNX export: AvgPool2d '{path}' with divisor_override has no ONNX equivalent.");
                }
                return Pool(g, "AveragePool", x, path, ap.kernel_size, ap.stride ?? ap.kernel_size, ap.padding ?? [0, 0],
                    ap.ceil_mode, null, ap.count_include_pad);
            case AdaptiveAvgPool2d aap:
                if (aap.output_size.All(s => s == 1))
                {
                    return g.Node("GlobalAveragePool", path, [x]);
                }
                throw new NotSupportedException($"ONNX export: AdaptiveAvgPool2d '{path}' to {string.Join("x", aap.output_size)}; "
                    + "only 1x1 (global pooling) is supported.");
            default:
                return null;
        }
    }

    /// <summary>Conv (with group, stride, dilation, symmetric zero padding).</summary>
    public static string Conv(OnnxExportContext ctx, Conv2d conv, string x, string path)
    {
        if (conv.padding_mode != PaddingModes.Zeros)
        {
            throw new NotSupportedException($"ONNX export: Conv2d '{path}' pads with {conv.padding_mode}; only zero padding is supported.");
        }
        var k = conv.kernel_size;
        var dilation = conv.dilation ?? [1, 1];
        long[] pad = conv.padding_type == Padding.Same
            ? [dilation[0] * (k[0] - 1) / 2, dilation[1] * (k[1] - 1) / 2]
            : conv.padding ?? [0, 0];
        if (conv.padding_type == Padding.Same && (((dilation[0] * (k[0] - 1)) % 2 != 0) || ((dilation[1] * (k[1] - 1)) % 2 != 0)))
        {
            throw new NotSupportedException($"ONNX export: Conv2d '{path}' uses padding='same' with an even kernel (asymmetric padding).");
        }
        var inputs = new List<string> { x, ctx.Weight(conv.weight, path, "weight") };
        if (conv.bias is not null)
        {
            inputs.Add(ctx.Weight(conv.bias, path, "bias"));
        }
        return ctx.Graph.Node("Conv", path, [.. inputs],
            G.Ints("kernel_shape", k), G.Ints("strides", conv.stride ?? [1, 1]), G.Ints("pads", [pad[0], pad[1], pad[0], pad[1]]),
            G.Ints("dilations", dilation), G.Int("group", conv.groups));
    }

    /// <summary>BatchNormalization in inference mode (running statistics).</summary>
    public static string BatchNorm(OnnxExportContext ctx, BatchNorm2d bn, string x, string path)
    {
        var c = bn.running_mean?.shape[0] ?? bn.weight!.shape[0];
        if (bn.running_mean is null || bn.running_var is null)
        {
            throw new NotSupportedException($"ONNX export: BatchNorm2d '{path}' has no running statistics (track_running_stats = false).");
        }
        var scale = bn.weight is null ? ctx.Graph.AddInitializer(path + ".weight", ones(c)) : ctx.Weight(bn.weight, path, "weight");
        var bias = bn.bias is null ? ctx.Graph.AddInitializer(path + ".bias", zeros(c)) : ctx.Weight(bn.bias, path, "bias");
        return ctx.Graph.Node("BatchNormalization", path,
            [x, scale, bias, ctx.Weight(bn.running_mean, path, "running_mean"), ctx.Weight(bn.running_var, path, "running_var")],
            G.Float("epsilon", (float)bn.eps));
    }

    /// <summary>y = x W^T + b over the last dimension (MatMul + Add, so [B, N, D] token inputs work too).</summary>
    public static string Linear(OnnxExportContext ctx, Tensor weight, Tensor? bias, string x, string path)
    {
        using var scope = NewDisposeScope();
        var wt = ctx.Graph.AddInitializer(path + ".weight", weight.detach().t().contiguous());
        var y = ctx.Graph.Node("MatMul", path + ".matmul", [x, wt]);
        return bias is null ? y : ctx.Graph.Node("Add", path, [y, ctx.Weight(bias, path, "bias")]);
    }

    /// <summary>LayerNormalization over the trailing normalized_shape dims.</summary>
    public static string LayerNorm(OnnxExportContext ctx, LayerNorm ln, string x, string path)
    {
        var n = ln.normalized_shape;
        var weight = ln.weight is null ? ctx.Graph.AddInitializer(path + ".weight", ones(n)) : ctx.Weight(ln.weight, path, "weight");
        var bias = ln.bias is null ? ctx.Graph.AddInitializer(path + ".bias", zeros(n)) : ctx.Weight(ln.bias, path, "bias");
        return ctx.Graph.Node("LayerNormalization", path, [x, weight, bias],
            G.Int("axis", -n.Length), G.Float("epsilon", (float)ln.eps));
    }

    /// <summary>GroupNorm as InstanceNormalization over groups (reshape to [B, G, -1]) plus the per-channel affine.</summary>
    public static string GroupNorm(OnnxExportContext ctx, GroupNorm gn, string x, string path)
    {
        var g = ctx.Graph;
        var shape = g.Node("Shape", path + ".shape", [x]);
        var grouped = g.Node("Reshape", path + ".group", [x, g.Int64Constant(0, gn.num_groups, -1)]);
        var ones1 = g.AddInitializer(path + ".group_scale", ones(gn.num_groups));
        var zeros1 = g.AddInitializer(path + ".group_bias", zeros(gn.num_groups));
        var normed = g.Node("InstanceNormalization", path + ".norm", [grouped, ones1, zeros1], G.Float("epsilon", (float)gn.eps));
        var y = g.Node("Reshape", path + ".ungroup", [normed, shape]);
        if (!gn.affine || gn.weight is null || gn.bias is null)
        {
            return y;
        }
        using var scope = NewDisposeScope();
        var w = g.AddInitializer(path + ".weight", gn.weight.detach().view(-1, 1, 1));
        var b = g.AddInitializer(path + ".bias", gn.bias.detach().view(-1, 1, 1));
        return g.Node("Add", path, [g.Node("Mul", path + ".scale", [y, w]), b]);
    }

    /// <summary>GELU: the Gelu operator from opset 20, else 0.5 x (1 + erf(x / sqrt 2)) or its tanh approximation.</summary>
    public static string Gelu(G g, string x, string path, bool tanhApproximation)
    {
        if (g.Opset >= 20)
        {
            return g.Node("Gelu", path, [x], G.Str("approximate", tanhApproximation ? "tanh" : "none"));
        }
        string inner;
        if (tanhApproximation)
        {
            // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
            var cube = g.Node("Mul", path + ".x3", [g.Node("Mul", path + ".x2", [x, x]), x]);
            var poly = g.Node("Add", path + ".poly", [x, g.Node("Mul", path + ".c", [cube, g.FloatConstant(0.044715f)])]);
            inner = g.Node("Tanh", path + ".tanh", [g.Node("Mul", path + ".s", [poly, g.FloatConstant(MathF.Sqrt(2f / MathF.PI))])]);
        }
        else
        {
            inner = g.Node("Erf", path + ".erf", [g.Node("Div", path + ".div", [x, g.FloatConstant(MathF.Sqrt(2f))])]);
        }
        var onePlus = g.Node("Add", path + ".add", [inner, g.FloatConstant(1f)]);
        return g.Node("Mul", path, [g.Node("Mul", path + ".half", [x, g.FloatConstant(0.5f)]), onePlus]);
    }

    private static string Pool(G g, string op, string x, string path, long[] kernel, long[] stride, long[] padding,
        bool ceilMode, long[]? dilation, bool? countIncludePad)
    {
        var attrs = new List<global::Onnx.AttributeProto>
        {
            G.Ints("kernel_shape", kernel), G.Ints("strides", stride),
            G.Ints("pads", [padding[0], padding[^1], padding[0], padding[^1]]), G.Int("ceil_mode", ceilMode ? 1 : 0),
        };
        if (dilation is not null)
        {
            attrs.Add(G.Ints("dilations", dilation));
        }
        if (countIncludePad is { } cip)
        {
            attrs.Add(G.Int("count_include_pad", cip ? 1 : 0));
        }
        return g.Node(op, path, [x], [.. attrs]);
    }
}
