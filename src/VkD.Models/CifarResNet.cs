using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>
/// The CIFAR ResNets of the common KD benchmark code (CRD / RepDistiller <c>models/resnet.py</c>: resnet8/20/56,
/// resnet8x4, resnet32x4): a 3×3 stem, three stages of basic blocks (strides 1, 2, 2), global average pooling, fc.
/// Keys equal RepDistiller's: <c>conv1.weight</c>, <c>bn1.*</c>, <c>layer{1..3}.{j}.{conv,bn}{1,2}.*</c>,
/// <c>layer{i}.{j}.downsample.{0,1}.*</c>, <c>fc.*</c>.
/// Pooling is adaptive (RepDistiller's <c>AvgPool2d(8)</c> is the same thing at 32 px and also works at 28 px).
/// </summary>
public sealed class CifarResNet : ClassifierModel, IFoldableBatchNorm
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly List<Sequential> _layers = [];
    private readonly Linear? fc;
    private readonly int _numFeatures;
    private readonly int _numClasses;
    private bool _folded;

    /// <summary>Builds the network of total depth <paramref name="depth"/> (6n + 2) with stem/stage widths
    /// <paramref name="numFilters"/> (4 values, e.g. [16, 16, 32, 64]).</summary>
    public CifarResNet(int depth, IReadOnlyList<int> numFilters, int numClasses = 10, int inChans = 3) : base(nameof(CifarResNet))
    {
        if ((depth - 2) % 6 != 0)
        {
            throw new ArgumentException($"CIFAR ResNet depth must be 6n + 2 (8, 20, 32, 56, 110); got {depth}.", nameof(depth));
        }
        if (numFilters.Count != 4)
        {
            throw new ArgumentException($"numFilters needs 4 widths (stem + 3 stages); got {numFilters.Count}.", nameof(numFilters));
        }
        Depth = depth;
        var n = (depth - 2) / 6;
        conv1 = nn.Conv2d(inChans, numFilters[0], kernel_size: 3, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(numFilters[0]);
        register_module("conv1", conv1);
        register_module("bn1", bn1);
        var inplanes = numFilters[0];
        for (var i = 0; i < 3; i++)
        {
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (var j = 0; j < n; j++)
            {
                var stride = i > 0 && j == 0 ? 2 : 1;
                blocks.Add((j.ToString(System.Globalization.CultureInfo.InvariantCulture), new ResNet.BasicBlock(inplanes, numFilters[i + 1], stride)));
                inplanes = numFilters[i + 1];
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

    /// <summary>Total depth (6n + 2).</summary>
    public int Depth { get; }

    /// <inheritdoc />
    public override int NumFeatures => _numFeatures;

    /// <inheritdoc />
    public override int NumClasses => _numClasses;

    /// <inheritdoc />
    public override Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = nn.functional.relu(BatchNormFolding.ConvBn(conv1, bn1, _folded, x));
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
    public int FoldBatchNorm() => ResNet.FoldPair(conv1, bn1, ref _folded);
}
