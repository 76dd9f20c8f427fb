using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>Residual block family of a torchvision ResNet.</summary>
public enum ResNetBlock
{
    /// <summary>Two 3×3 convolutions (resnet18/34).</summary>
    Basic,

    /// <summary>1×1 → 3×3 (stride here, "v1.5") → 1×1 with 4× expansion (resnet50+).</summary>
    Bottleneck,
}

/// <summary>
/// torchvision's <c>ResNet</c> (resnet18/34/50) with torchvision's key names: <c>conv1.weight</c>, <c>bn1.*</c>,
/// <c>layer{1..4}.{j}.conv{k}.weight</c>, <c>layer{i}.{j}.bn{k}.*</c>, <c>layer{i}.{j}.downsample.{0,1}.*</c>,
/// <c>fc.*</c>. <see cref="ClassifierModel.ForwardFeatures"/> gives the last map [B, C, H/32, W/32].
/// </summary>
public sealed class ResNet : ClassifierModel, IFoldableBatchNorm
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly MaxPool2d maxpool;
    private readonly List<Sequential> _layers = [];
    private readonly Linear? fc;
    private readonly int _numFeatures;
    private readonly int _numClasses;
    private bool _folded;

    /// <summary>Builds a ResNet with <paramref name="layers"/> blocks per stage.</summary>
    public ResNet(ResNetBlock block, IReadOnlyList<int> layers, int numClasses = 1000, int inChans = 3) : base(nameof(ResNet))
    {
        if (layers.Count != 4)
        {
            throw new ArgumentException($"A torchvision ResNet has 4 stages; got {layers.Count}.", nameof(layers));
        }
        Block = block;
        Layers = layers.ToArray();
        var expansion = block == ResNetBlock.Basic ? 1 : 4;
        conv1 = nn.Conv2d(inChans, 64, kernel_size: 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(64);
        maxpool = nn.MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
        register_module("conv1", conv1);
        register_module("bn1", bn1);
        register_module("maxpool", maxpool);
        var inplanes = 64;
        int[] widths = [64, 128, 256, 512];
        for (var i = 0; i < 4; i++)
        {
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (var j = 0; j < layers[i]; j++)
            {
                var stride = i > 0 && j == 0 ? 2 : 1;
                nn.Module<Tensor, Tensor> m = block == ResNetBlock.Basic
                    ? new BasicBlock(inplanes, widths[i], stride)
                    : new BottleneckBlock(inplanes, widths[i], stride);
                blocks.Add((j.ToString(System.Globalization.CultureInfo.InvariantCulture), m));
                inplanes = widths[i] * expansion;
            }
            var layer = nn.Sequential(blocks.ToArray());
            _layers.Add(layer);
            register_module($"layer{i + 1}", layer);
        }
        _numFeatures = inplanes;
        _numClasses = numClasses;
        if (numClasses > 0)
        {
            fc = nn.Linear(inplanes, numClasses);
            register_module("fc", fc);
        }
        ResNet.InitConvWeights(this);
    }

    /// <summary>The block family.</summary>
    public ResNetBlock Block { get; }

    /// <summary>Blocks per stage.</summary>
    public IReadOnlyList<int> Layers { get; }

    /// <inheritdoc />
    public override int NumFeatures => _numFeatures;

    /// <inheritdoc />
    public override int NumClasses => _numClasses;

    /// <inheritdoc />
    public override Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = maxpool.call(nn.functional.relu(BatchNormFolding.ConvBn(conv1, bn1, _folded, x)));
        foreach (var layer in _layers)
        {
            x = layer.call(x);
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Global average pool → <c>fc</c>; with <paramref name="preLogits"/> the pooled [B, C].</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        return ResNet.PoolAndClassify(features, fc, preLogits);
    }

    /// <inheritdoc />
    public bool BatchNormFolded => _folded;

    /// <summary>Folds the stem's <c>bn1</c> into <c>conv1</c> (the blocks fold their own pairs).</summary>
    public int FoldBatchNorm() => FoldPair(conv1, bn1, ref _folded);

    /// <summary>Folds one pair unless <paramref name="folded"/> says it was; returns the number folded.</summary>
    internal static int FoldPair(Conv2d conv, BatchNorm2d bn, ref bool folded)
    {
        if (folded)
        {
            return 0;
        }
        BatchNormFolding.FoldInto(conv, bn);
        folded = true;
        return 1;
    }

    /// <summary>torchvision's init, shared by both ResNet families: every conv gets kaiming_normal (fan_out, relu).</summary>
    internal static void InitConvWeights(nn.Module root)
    {
        foreach (var module in root.modules())
        {
            if (module is Conv2d conv)
            {
                WeightInit.KaimingNormalFanOut(conv);
            }
        }
    }

    /// <summary>The ResNet head of both families: global average pool, then <paramref name="fc"/> unless
    /// <paramref name="preLogits"/> (or no classifier).</summary>
    internal static Tensor PoolAndClassify(Tensor features, Linear? fc, bool preLogits)
    {
        using var scope = NewDisposeScope();
        var pooled = features.mean([2L, 3L]);
        return (preLogits || fc is null ? pooled : fc.call(pooled)).MoveToOuterDisposeScope();
    }

    /// <summary>conv1x1 + BN shortcut (keys <c>downsample.0</c>, <c>downsample.1</c>) when the shape changes. The
    /// block keeps the conv and BN too, so that after folding it can call the conv alone (the ONNX exporter walks
    /// the Sequential, hence it stays one).</summary>
    internal static (Sequential Module, Conv2d Conv, BatchNorm2d Bn)? Shortcut(int inplanes, int outplanes, int stride)
    {
        if (stride == 1 && inplanes == outplanes)
        {
            return null;
        }
        var conv = nn.Conv2d(inplanes, outplanes, kernel_size: 1, stride: stride, bias: false);
        var bn = nn.BatchNorm2d(outplanes);
        return (nn.Sequential(("0", conv), ("1", bn)), conv, bn);
    }

    /// <summary>The shortcut's output: the input itself, or its conv1x1 + BN (folded or not).</summary>
    internal static Tensor ApplyShortcut((Sequential Module, Conv2d Conv, BatchNorm2d Bn)? shortcut, bool folded, Tensor x) =>
        shortcut is not { } s ? x : BatchNormFolding.ConvBn(s.Conv, s.Bn, folded, x);

    /// <summary>Folds the shortcut's pair, if the block has one; returns the number folded.</summary>
    internal static int FoldShortcut((Sequential Module, Conv2d Conv, BatchNorm2d Bn)? shortcut)
    {
        if (shortcut is { } s)
        {
            BatchNormFolding.FoldInto(s.Conv, s.Bn);
            return 1;
        }
        return 0;
    }

    /// <summary>torchvision / RepDistiller <c>BasicBlock</c>.</summary>
    internal sealed class BasicBlock : nn.Module<Tensor, Tensor>, IFoldableBatchNorm
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly (Sequential Module, Conv2d Conv, BatchNorm2d Bn)? downsample;
        private bool _folded;

        public BasicBlock(int inplanes, int planes, int stride) : base(nameof(BasicBlock))
        {
            conv1 = nn.Conv2d(inplanes, planes, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, kernel_size: 3, stride: 1, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            downsample = Shortcut(inplanes, planes, stride);
            register_module("conv1", conv1);
            register_module("bn1", bn1);
            register_module("conv2", conv2);
            register_module("bn2", bn2);
            if (downsample is { } shortcut)
            {
                register_module("downsample", shortcut.Module);
            }
        }

        public bool BatchNormFolded => _folded;

        public int FoldBatchNorm()
        {
            if (_folded)
            {
                return 0;
            }
            BatchNormFolding.FoldInto(conv1, bn1);
            BatchNormFolding.FoldInto(conv2, bn2);
            _folded = true;
            return 2 + FoldShortcut(downsample);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = nn.functional.relu(BatchNormFolding.ConvBn(conv1, bn1, _folded, x));
            y = BatchNormFolding.ConvBn(conv2, bn2, _folded, y);
            var identity = ApplyShortcut(downsample, _folded, x);
            return nn.functional.relu(y + identity).MoveToOuterDisposeScope();
        }
    }

    /// <summary>torchvision <c>Bottleneck</c> (stride on the 3×3 conv).</summary>
    internal sealed class BottleneckBlock : nn.Module<Tensor, Tensor>, IFoldableBatchNorm
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv3;
        private readonly BatchNorm2d bn3;
        private readonly (Sequential Module, Conv2d Conv, BatchNorm2d Bn)? downsample;
        private bool _folded;

        public BottleneckBlock(int inplanes, int planes, int stride) : base(nameof(BottleneckBlock))
        {
            conv1 = nn.Conv2d(inplanes, planes, kernel_size: 1, bias: false);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            conv3 = nn.Conv2d(planes, planes * 4, kernel_size: 1, bias: false);
            bn3 = nn.BatchNorm2d(planes * 4);
            downsample = Shortcut(inplanes, planes * 4, stride);
            register_module("conv1", conv1);
            register_module("bn1", bn1);
            register_module("conv2", conv2);
            register_module("bn2", bn2);
            register_module("conv3", conv3);
            register_module("bn3", bn3);
            if (downsample is { } shortcut)
            {
                register_module("downsample", shortcut.Module);
            }
        }

        public bool BatchNormFolded => _folded;

        public int FoldBatchNorm()
        {
            if (_folded)
            {
                return 0;
            }
            BatchNormFolding.FoldInto(conv1, bn1);
            BatchNormFolding.FoldInto(conv2, bn2);
            BatchNormFolding.FoldInto(conv3, bn3);
            _folded = true;
            return 3 + FoldShortcut(downsample);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = nn.functional.relu(BatchNormFolding.ConvBn(conv1, bn1, _folded, x));
            y = nn.functional.relu(BatchNormFolding.ConvBn(conv2, bn2, _folded, y));
            y = BatchNormFolding.ConvBn(conv3, bn3, _folded, y);
            var identity = ApplyShortcut(downsample, _folded, x);
            return nn.functional.relu(y + identity).MoveToOuterDisposeScope();
        }
    }
}
