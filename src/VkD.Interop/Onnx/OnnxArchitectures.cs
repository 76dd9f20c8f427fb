using TorchSharp;
using TorchSharp.Modules;
using VkD.Models;
using static TorchSharp.torch;
using G = VkD.Interop.Onnx.OnnxGraphBuilder;

namespace VkD.Interop.Onnx;

/// <summary>The architecture exporters for the VkD.Models zoo.</summary>
internal static class OnnxArchitectures
{
    /// <summary>All built-in family exporters.</summary>
    public static IEnumerable<IOnnxArchitectureExporter> BuiltIn() =>
        [new ResNetOnnxExporter(), new RegNetOnnxExporter(), new VisionTransformerOnnxExporter()];

    /// <summary>A child module by its registered (state-dict) name.</summary>
    public static nn.Module Child(nn.Module parent, string name, string path) =>
        parent.named_children().FirstOrDefault(c => c.name == name).module
        ?? throw new InvalidOperationException($"ONNX export: module '{path}' ({parent.GetType().Name}) has no child '{name}'.");

    /// <summary>A child module, or null when the model has none under that name (optional shortcuts, heads).</summary>
    public static nn.Module? OptionalChild(nn.Module parent, string name) =>
        parent.named_children().FirstOrDefault(c => c.name == name).module;

    /// <summary>A parameter registered directly on <paramref name="module"/>.</summary>
    public static Tensor Parameter(nn.Module module, string name) =>
        module.named_parameters(recurse: false).FirstOrDefault(p => p.name == name).parameter
        ?? throw new InvalidOperationException($"ONNX export: {module.GetType().Name} has no parameter '{name}'.");

    /// <summary>Global average pool then flatten: [B, C, H, W] to [B, C].</summary>
    public static string GlobalPool(G g, string x, string path) =>
        g.Node("Flatten", path, [g.Node("GlobalAveragePool", path + ".gap", [x])], G.Int("axis", 1));

    /// <summary>Emits an optional linear head; null when the model has no classifier (or an Identity head).</summary>
    public static string? Head(OnnxExportContext ctx, nn.Module? head, string x, string path) =>
        head is null or Identity ? null : ctx.Emit(head, x, path);

    /// <summary>True when <paramref name="module"/> is the VkD.Models block type named <paramref name="typeName"/>
    /// (some blocks are internal to VkD.Models, so they are recognised by name within that assembly).</summary>
    public static bool IsModelsType(nn.Module module, string typeName) =>
        module.GetType().Assembly == typeof(ClassifierModel).Assembly && module.GetType().Name == typeName;
}

/// <summary>torchvision ResNets (<see cref="ResNet"/>) and CIFAR ResNets (<see cref="CifarResNet"/>).</summary>
internal sealed class ResNetOnnxExporter : IOnnxArchitectureExporter
{
    public bool CanExport(ClassifierModel model) => model is ResNet or CifarResNet;

    public OnnxClassifierOutputs Emit(OnnxExportContext ctx, ClassifierModel model, string input, OnnxExportOptions options)
    {
        ctx.Register(EmitBlock);
        var g = ctx.Graph;
        var x = ctx.EmitChild(model, "bn1", ctx.EmitChild(model, "conv1", input, ""), "");
        x = g.Node("Relu", "relu", [x]);
        if (OnnxArchitectures.OptionalChild(model, "maxpool") is { } pool)
        {
            x = ctx.Emit(pool, x, "maxpool");
        }
        for (var i = 1; OnnxArchitectures.OptionalChild(model, $"layer{i}") is { } layer; i++)
        {
            x = ctx.Emit(layer, x, $"layer{i}");
        }
        var features = OnnxArchitectures.GlobalPool(g, x, "pool");
        return new OnnxClassifierOutputs(OnnxArchitectures.Head(ctx, OnnxArchitectures.OptionalChild(model, "fc"), features, "fc"), features);
    }

    /// <summary>BasicBlock: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut); BottleneckBlock adds conv3/bn3.</summary>
    private static string? EmitBlock(OnnxExportContext ctx, nn.Module block, string x, string path)
    {
        var convs = OnnxArchitectures.IsModelsType(block, "BasicBlock") ? 2 : OnnxArchitectures.IsModelsType(block, "BottleneckBlock") ? 3 : 0;
        if (convs == 0)
        {
            return null;
        }
        var g = ctx.Graph;
        var y = x;
        for (var i = 1; i <= convs; i++)
        {
            y = ctx.EmitChild(block, $"bn{i}", ctx.EmitChild(block, $"conv{i}", y, path), path);
            if (i < convs)
            {
                y = g.Node("Relu", $"{path}.relu{i}", [y]);
            }
        }
        var shortcut = OnnxArchitectures.OptionalChild(block, "downsample") is { } down ? ctx.Emit(down, x, path + ".downsample") : x;
        return g.Node("Relu", path + ".out", [g.Node("Add", path + ".add", [y, shortcut])]);
    }
}

/// <summary>timm RegNet-X/Y (<see cref="RegNet"/>): ConvNormAct stem, stages of <see cref="RegNetBottleneck"/> with
/// squeeze-excite, global pool, linear head.</summary>
internal sealed class RegNetOnnxExporter : IOnnxArchitectureExporter
{
    public bool CanExport(ClassifierModel model) => model is RegNet;

    public OnnxClassifierOutputs Emit(OnnxExportContext ctx, ClassifierModel model, string input, OnnxExportOptions options)
    {
        var g = ctx.Graph;
        var x = ConvNormAct(ctx, OnnxArchitectures.Child(model, "stem", ""), input, "stem", act: true);
        for (var i = 1; OnnxArchitectures.OptionalChild(model, $"s{i}") is { } stage; i++)
        {
            for (var j = 1; OnnxArchitectures.OptionalChild(stage, $"b{j}") is { } block; j++)
            {
                x = Bottleneck(ctx, (RegNetBottleneck)block, x, $"s{i}.b{j}");
            }
        }
        var features = OnnxArchitectures.GlobalPool(g, x, "pool");
        var head = OnnxArchitectures.OptionalChild(model, "head");
        var logits = head is null ? null : ctx.Emit(OnnxArchitectures.Child(head, "fc", "head"), features, "head.fc");
        return new OnnxClassifierOutputs(logits, features);
    }

    /// <summary>relu(drop_path(conv3(se(conv2(conv1 x)))) + shortcut); drop path is the identity in eval.</summary>
    private static string Bottleneck(OnnxExportContext ctx, RegNetBottleneck block, string x, string path)
    {
        var g = ctx.Graph;
        var y = ConvNormAct(ctx, OnnxArchitectures.Child(block, "conv1", path), x, path + ".conv1", act: true);
        y = ConvNormAct(ctx, OnnxArchitectures.Child(block, "conv2", path), y, path + ".conv2", act: true);
        if (OnnxArchitectures.OptionalChild(block, "se") is { } se)
        {
            y = SqueezeExcite(ctx, se, y, path + ".se");
        }
        y = ConvNormAct(ctx, OnnxArchitectures.Child(block, "conv3", path), y, path + ".conv3", act: false);
        var shortcut = OnnxArchitectures.OptionalChild(block, "downsample") is { } down
            ? ConvNormAct(ctx, down, x, path + ".downsample", act: false)
            : x;
        return g.Node("Relu", path + ".out", [g.Node("Add", path + ".add", [y, shortcut])]);
    }

    /// <summary>conv, bn and (for the stem, conv1 and conv2 of a block) ReLU; RegNet's conv3 and shortcut have no act.</summary>
    private static string ConvNormAct(OnnxExportContext ctx, nn.Module cna, string x, string path, bool act)
    {
        var y = ctx.EmitChild(cna, "bn", ctx.EmitChild(cna, "conv", x, path), path);
        return act ? ctx.Graph.Node("Relu", path + ".act", [y]) : y;
    }

    /// <summary>x * sigmoid(fc2(relu(fc1(mean_hw x)))).</summary>
    private static string SqueezeExcite(OnnxExportContext ctx, nn.Module se, string x, string path)
    {
        var g = ctx.Graph;
        var s = g.Node("GlobalAveragePool", path + ".pool", [x]);
        s = g.Node("Relu", path + ".act", [ctx.EmitChild(se, "fc1", s, path)]);
        s = g.Node("Sigmoid", path + ".gate", [ctx.EmitChild(se, "fc2", s, path)]);
        return g.Node("Mul", path, [x, s]);
    }
}

/// <summary>ViT/DeiT (<see cref="VisionTransformer"/>), distilled DeiT (<see cref="DistilledVisionTransformer"/>) and the
/// VkD conv-stem student (<see cref="ConvStemDistilledVisionTransformer"/>).</summary>
internal sealed class VisionTransformerOnnxExporter : IOnnxArchitectureExporter
{
    public bool CanExport(ClassifierModel model) => model is VisionTransformerBase;

    public OnnxClassifierOutputs Emit(OnnxExportContext ctx, ClassifierModel model, string input, OnnxExportOptions options)
    {
        var vit = (VisionTransformerBase)model;
        if (options.InputSize != vit.Config.ImgSize)
        {
            throw new NotSupportedException($"ONNX export: {model.GetType().Name} was built for {vit.Config.ImgSize} px (its position "
                + $"embedding has {vit.NumPatches} patches); export it with InputSize = {vit.Config.ImgSize}, not {options.InputSize}.");
        }
        var g = ctx.Graph;
        var d = vit.Config.EmbedDim;
        string patches;
        var prefix = new List<string>();
        var batchDim = g.Node("Shape", "batch_dim", [input], G.Int("start", 0), G.Int("end", 1));
        var tokenShape = g.Node("Concat", "token_shape", [batchDim, g.Int64Constant(1, d)], G.Int("axis", 0));
        string Expand(string token, string name) =>
            g.Node("Expand", name, [ctx.Weight(token == "cls_token" ? OnnxArchitectures.Parameter(vit, "cls_token")
                : OnnxArchitectures.Parameter(vit, "dist_token"), "", token), tokenShape]);

        switch (vit)
        {
            case ConvStemDistilledVisionTransformer:
                {
                    var stem = OnnxArchitectures.Child(vit, "conv_embed", "");
                    var y = ctx.EmitChild(stem, "proj", ctx.EmitChild(stem, "conv", input, "conv_embed"), "conv_embed");
                    patches = Tokens(g, y, d, "conv_embed.tokens");
                    prefix.Add(Expand("cls_token", "cls_tokens"));
                    prefix.Add(g.ReduceMean(patches, "dist_tokens", [1], keepDims: true));
                    break;
                }
            case DistilledVisionTransformer:
                patches = Tokens(g, ctx.EmitChild(OnnxArchitectures.Child(vit, "patch_embed", ""), "proj", input, "patch_embed"), d, "patch_embed.tokens");
                prefix.Add(Expand("cls_token", "cls_tokens"));
                prefix.Add(Expand("dist_token", "dist_tokens"));
                break;
            case VisionTransformer:
                patches = Tokens(g, ctx.EmitChild(OnnxArchitectures.Child(vit, "patch_embed", ""), "proj", input, "patch_embed"), d, "patch_embed.tokens");
                prefix.Add(Expand("cls_token", "cls_tokens"));
                break;
            default:
                throw new NotSupportedException($"ONNX export: no token embedding for {vit.GetType().FullName}.");
        }
        var x = g.Node("Concat", "tokens", [.. prefix, patches], G.Int("axis", 1));
        x = g.Node("Add", "pos_drop", [x, ctx.Weight(OnnxArchitectures.Parameter(vit, "pos_embed"), "", "pos_embed")]);

        var blocks = OnnxArchitectures.Child(vit, "blocks", "");
        foreach (var (name, block) in blocks.named_children())
        {
            x = Block(ctx, block, x, $"blocks.{name}", vit.Config.NumHeads, d);
        }
        x = ctx.EmitChild(vit, "norm", x, "");

        var cls = g.Node("Gather", "cls", [x, g.Int64Scalar(0)], G.Int("axis", 1));
        var headCls = OnnxArchitectures.Head(ctx, OnnxArchitectures.Child(vit, "head", ""), cls, "head");
        if (vit is not TwoHeadVisionTransformer)
        {
            return new OnnxClassifierOutputs(headCls, cls);
        }
        var dist = g.Node("Gather", "dist", [x, g.Int64Scalar(1)], G.Int("axis", 1));
        var headDist = OnnxArchitectures.Head(ctx, OnnxArchitectures.Child(vit, "head_dist", ""), dist, "head_dist");
        var patchTokens = g.Node("Slice", "patch_tokens", [x, g.Int64Constant(2), g.Int64Constant(long.MaxValue), g.Int64Constant(1)]);
        var pooled = g.ReduceMean(patchTokens, "patch_mean", [1], keepDims: false);
        var logits = headCls is null || headDist is null ? null
            : g.Node("Mul", "head_mean", [g.Node("Add", "head_sum", [headCls, headDist]), g.FloatConstant(0.5f)]);
        return new OnnxClassifierOutputs(logits, pooled);
    }

    /// <summary>[B, D, h, w] to [B, h*w, D] (flatten(2).transpose(1, 2)).</summary>
    private static string Tokens(G g, string x, int d, string path) =>
        g.Node("Transpose", path, [g.Node("Reshape", path + ".flat", [x, g.Int64Constant(0, d, -1)])], G.Ints("perm", [0, 2, 1]));

    /// <summary>Pre-norm block: x + attn(norm1 x), then x + mlp(norm2 x); drop paths are identities in eval.</summary>
    private static string Block(OnnxExportContext ctx, nn.Module block, string x, string path, int heads, int d)
    {
        var g = ctx.Graph;
        var h = ctx.EmitChild(block, "norm1", x, path);
        h = Attention(ctx, OnnxArchitectures.Child(block, "attn", path), h, path + ".attn", heads, d);
        x = g.Node("Add", path + ".res1", [x, h]);
        h = ctx.EmitChild(block, "norm2", x, path);
        var mlp = OnnxArchitectures.Child(block, "mlp", path);
        h = ctx.EmitChild(mlp, "fc2", ctx.EmitChild(mlp, "act", ctx.EmitChild(mlp, "fc1", h, path + ".mlp"), path + ".mlp"), path + ".mlp");
        return g.Node("Add", path + ".res2", [x, h]);
    }

    /// <summary>timm Attention: qkv, split into heads, softmax(q k^T / sqrt(hd)) v, merge heads, proj.</summary>
    private static string Attention(OnnxExportContext ctx, nn.Module attn, string x, string path, int heads, int d)
    {
        var g = ctx.Graph;
        var hd = d / heads;
        var qkv = ctx.EmitChild(attn, "qkv", x, path);
        qkv = g.Node("Reshape", path + ".qkv_heads", [qkv, g.Int64Constant(0, 0, 3, heads, hd)]);
        qkv = g.Node("Transpose", path + ".qkv_perm", [qkv], G.Ints("perm", [2, 0, 3, 1, 4]));
        var q = g.Node("Gather", path + ".q", [qkv, g.Int64Scalar(0)], G.Int("axis", 0));
        var k = g.Node("Gather", path + ".k", [qkv, g.Int64Scalar(1)], G.Int("axis", 0));
        var v = g.Node("Gather", path + ".v", [qkv, g.Int64Scalar(2)], G.Int("axis", 0));
        var kt = g.Node("Transpose", path + ".kt", [k], G.Ints("perm", [0, 1, 3, 2]));
        var scores = g.Node("Mul", path + ".scores", [g.Node("MatMul", path + ".qk", [q, kt]), g.FloatConstant(1f / MathF.Sqrt(hd))]);
        var weights = g.Node("Softmax", path + ".softmax", [scores], G.Int("axis", -1));
        var attended = g.Node("MatMul", path + ".av", [weights, v]);
        attended = g.Node("Transpose", path + ".merge_perm", [attended], G.Ints("perm", [0, 2, 1, 3]));
        attended = g.Node("Reshape", path + ".merge", [attended, g.Int64Constant(0, 0, d)]);
        return ctx.EmitChild(attn, "proj", attended, path);
    }
}
