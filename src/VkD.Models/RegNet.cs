using TorchSharp;
using TorchSharp.Modules;
using VkD.Models.Layers;
using static TorchSharp.torch;

namespace VkD.Models;

/// <summary>
/// timm's <c>RegNet</c> (X/Y; the DeiT/VkD teacher is <c>regnety_160</c>): a 3×3 stride-2 stem, four stages of
/// bottleneck blocks (SE after the grouped conv for RegNetY), global average pooling and a linear classifier.
/// Keys equal timm's: <c>stem.conv.weight</c>, <c>stem.bn.*</c>, <c>s{1..4}.b{j}.conv{1,2,3}.{conv,bn}.*</c>,
/// <c>s{i}.b{j}.se.fc{1,2}.*</c>, <c>s{i}.b{j}.downsample.{conv,bn}.*</c>, <c>head.fc.*</c>.
/// <see cref="ClassifierModel.ForwardFeatures"/> gives [B, C, H/32, W/32] (regnety_160: [B, 3024, 7, 7] at 224 px).
/// </summary>
public sealed class RegNet : ClassifierModel
{
    private readonly ConvNormAct stem;
    private readonly List<RegStage> _stages = [];
    private readonly ClassifierHead? head;
    private readonly int _numFeatures;
    private readonly int _numClasses;

    /// <summary>Builds the network.</summary>
    public RegNet(RegNetConfig config, int inChans = 3, int numClasses = 1000, double dropPathRate = 0.0)
        : base(nameof(RegNet))
    {
        Config = config;
        var specs = config.Stages();
        if (specs.Count != 4)
        {
            throw new ArgumentException($"RegNet configuration yields {specs.Count} stages; timm's RegNet needs exactly 4.", nameof(config));
        }
        stem = new ConvNormAct(inChans, config.StemWidth, 3, stride: 2);
        register_module("stem", stem);

        var totalBlocks = specs.Sum(s => s.Depth);
        var blockIndex = 0;
        var prevWidth = config.StemWidth;
        for (var i = 0; i < specs.Count; i++)
        {
            var spec = specs[i];
            var dprs = new double[spec.Depth];
            for (var j = 0; j < spec.Depth; j++, blockIndex++)
            {
                // np.linspace(0, drop_path_rate, total blocks), split by stage.
                dprs[j] = totalBlocks == 1 ? dropPathRate : dropPathRate * blockIndex / (totalBlocks - 1);
            }
            var stage = new RegStage(prevWidth, spec, config, dprs);
            _stages.Add(stage);
            register_module($"s{i + 1}", stage);
            prevWidth = spec.Width;
        }
        _numFeatures = prevWidth;
        _numClasses = numClasses;
        // final_conv is an Identity for RegNet-X/Y (no parameters).
        if (numClasses > 0)
        {
            head = new ClassifierHead(nn.Linear(prevWidth, numClasses));
            register_module("head", head);
        }
        InitWeights();
    }

    /// <summary>The configuration.</summary>
    public RegNetConfig Config { get; }

    /// <inheritdoc />
    public override int NumFeatures => _numFeatures;

    /// <inheritdoc />
    public override int NumClasses => _numClasses;

    /// <inheritdoc />
    public override Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = stem.call(x);
        foreach (var stage in _stages)
        {
            x = stage.call(x);
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Global average pool → <c>head.fc</c>; with <paramref name="preLogits"/> the pooled [B, C].</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        using var scope = NewDisposeScope();
        var pooled = features.mean([2L, 3L]);
        return (preLogits || head is null ? pooled : head.call(pooled)).MoveToOuterDisposeScope();
    }

    private void InitWeights()
    {
        // timm _init_weights: conv ~ N(0, sqrt(2 / fan_out)), fan_out = k*k*out/groups; linear ~ N(0, 0.01);
        // zero_init_last: the last BN of each residual branch starts at 0.
        foreach (var module in modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    {
                        var w = conv.weight!;
                        // weight is [out, in/groups, k, k]; fan_out = k*k*out/groups.
                        var groups = conv.groups;
                        WeightInit.Normal(w, Math.Sqrt(2.0 / (w.shape[2] * w.shape[3] * w.shape[0] / groups)));
                        if (conv.bias is not null)
                        {
                            WeightInit.Zeros(conv.bias);
                        }
                        break;
                    }
                case Linear linear:
                    WeightInit.Normal(linear.weight!, 0.01);
                    if (linear.bias is not null)
                    {
                        WeightInit.Zeros(linear.bias);
                    }
                    break;
            }
        }
        foreach (var block in modules().OfType<RegNetBottleneck>())
        {
            block.ZeroInitLast();
        }
    }

    /// <summary>timm's <c>ClassifierHead</c> (only its <c>fc</c> has parameters; pooling is done in ForwardHead).</summary>
    private sealed class ClassifierHead : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc;

        public ClassifierHead(Linear linear) : base("head")
        {
            fc = linear;
            register_module("fc", fc);
        }

        public override Tensor forward(Tensor x) => fc.call(x);
    }

    /// <summary>A stage: blocks <c>b1..bN</c>, the first one strided.</summary>
    private sealed class RegStage : nn.Module<Tensor, Tensor>
    {
        private readonly List<RegNetBottleneck> _blocks = [];

        public RegStage(int inWidth, RegNetStageSpec spec, RegNetConfig config, double[] dropPathRates) : base("RegStage")
        {
            for (var j = 0; j < spec.Depth; j++)
            {
                var block = new RegNetBottleneck(j == 0 ? inWidth : spec.Width, spec.Width, j == 0 ? 2 : 1,
                    config.BottleRatio, spec.GroupSize, config.SeRatio, dropPathRates[j]);
                _blocks.Add(block);
                register_module($"b{j + 1}", block);
            }
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            foreach (var block in _blocks)
            {
                x = block.call(x);
            }
            return x.MoveToOuterDisposeScope();
        }
    }
}

/// <summary>
/// timm's RegNet <c>Bottleneck</c>: 1×1 conv → 3×3 grouped conv (stride) → SE → 1×1 conv, plus a 1×1 conv
/// shortcut when the shape changes; ReLU after the sum.
/// </summary>
public sealed class RegNetBottleneck : nn.Module<Tensor, Tensor>
{
    private readonly ConvNormAct conv1;
    private readonly ConvNormAct conv2;
    private readonly SqueezeExcite? se;
    private readonly ConvNormAct conv3;
    private readonly ConvNormAct? downsample;
    private readonly DropPath drop_path;

    /// <summary>Creates the block.</summary>
    public RegNetBottleneck(int inChs, int outChs, int stride, double bottleRatio, int groupSize, double seRatio, double dropPath)
        : base(nameof(RegNetBottleneck))
    {
        var bottleneck = (int)Math.Round(outChs * bottleRatio);
        var groups = bottleneck / groupSize;
        conv1 = new ConvNormAct(inChs, bottleneck, 1);
        conv2 = new ConvNormAct(bottleneck, bottleneck, 3, stride: stride, groups: groups);
        register_module("conv1", conv1);
        register_module("conv2", conv2);
        if (seRatio > 0)
        {
            // timm sizes the SE bottleneck from the block's *input* width.
            se = new SqueezeExcite(bottleneck, (int)Math.Round(inChs * seRatio));
            register_module("se", se);
        }
        conv3 = new ConvNormAct(bottleneck, outChs, 1, applyAct: false);
        register_module("conv3", conv3);
        if (inChs != outChs || stride != 1)
        {
            downsample = new ConvNormAct(inChs, outChs, 1, stride: stride, applyAct: false);
            register_module("downsample", downsample);
        }
        drop_path = new DropPath(dropPath);
        register_module("drop_path", drop_path);
    }

    internal void ZeroInitLast() => WeightInit.Zeros(conv3.Bn.weight!);

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = conv2.call(conv1.call(x));
        if (se is not null)
        {
            y = se.call(y);
        }
        y = conv3.call(y);
        var shortcut = downsample is null ? x : downsample.call(x);
        return nn.functional.relu(drop_path.call(y) + shortcut).MoveToOuterDisposeScope();
    }
}
