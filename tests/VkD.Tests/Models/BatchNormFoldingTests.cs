using TorchSharp;
using TorchSharp.Modules;
using VkD.Models;
using VkD.Models.Layers;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Tests.Models;

/// <summary>Issue 17: a frozen CNN teacher's eval BatchNorms folded into the convolutions before them give the same
/// logits and pooled features, the BatchNorms are no longer run, and a model in training mode is refused.</summary>
public sealed class BatchNormFoldingTests
{
    /// <summary>A small RegNetY (SE, grouped convs, ConvNormAct), torchvision's ResNet-18 and ResNet-50 (basic and
    /// bottleneck blocks, stem, downsample shortcuts) and a CIFAR ResNet.</summary>
    public static TheoryData<string, int> Models => new()
    {
        { "regnety_002", 64 },
        { "resnet18", 64 },
        { "resnet50", 64 },
        { "resnet8", 32 },
    };

    private static ClassifierModel Build(string name, int size, int seed)
    {
        manual_seed(seed);
        var model = ModelRegistry.Create(name, new ModelOptions(10, size));
        RandomiseBatchNorms(model, seed);
        model.eval();
        return model;
    }

    // A fresh BatchNorm is the identity in eval (mean 0, var 1, γ 1, β 0) and RegNet zero-inits some γ: folding it
    // would pass even with the statistics ignored, so every statistic and affine value is drawn at random.
    private static void RandomiseBatchNorms(nn.Module model, int seed)
    {
        using var _ = no_grad();
        using var g = new Generator((ulong)seed + 100);
        foreach (var bn in model.modules().OfType<BatchNorm2d>())
        {
            bn.running_mean!.copy_(randn(bn.running_mean.shape, generator: g) * 0.5);
            bn.running_var!.copy_(rand(bn.running_var.shape, generator: g) * 1.5 + 0.25);
            bn.weight!.copy_(rand(bn.weight.shape, generator: g) + 0.5);
            bn.bias!.copy_(randn(bn.bias.shape, generator: g) * 0.2);
        }
    }

    private static (Tensor Logits, Tensor Pooled) Outputs(ClassifierModel model, Tensor x)
    {
        using var _ = no_grad();
        var o = model.ForwardForDistillation(x);
        return (o.Logits, o.PooledFeatures);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        return ((actual - expected).norm() / expected.norm()).item<float>();
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Folded_logits_and_pooled_features_equal_the_unfolded_models(string name, int size)
    {
        using var scope = NewDisposeScope();
        var model = Build(name, size, seed: 3);
        var batchNorms = model.modules().OfType<BatchNorm2d>().Count();
        var x = randn(4, 3, size, size);
        var (logits, pooled) = Outputs(model, x);

        Assert.True(BatchNormFolding.CanFold(model));
        Assert.False(BatchNormFolding.IsFolded(model));
        Assert.Equal(batchNorms, BatchNormFolding.Fold(model));
        Assert.True(BatchNormFolding.IsFolded(model));
        var (foldedLogits, foldedPooled) = Outputs(model, x);

        var logitError = RelativeError(foldedLogits, logits);
        var featureError = RelativeError(foldedPooled, pooled);
        Assert.True(logitError < 1e-5, $"{name}: logits relative error {logitError:E2}");
        Assert.True(featureError < 1e-5, $"{name}: pooled features relative error {featureError:E2}");
        // The outputs are not trivially small: a relative error on near-zero outputs would prove nothing.
        Assert.True(pooled.abs().mean().item<float>() > 1e-3);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void After_folding_the_forward_no_longer_reads_the_BatchNorms(string name, int size)
    {
        using var scope = NewDisposeScope();
        var folded = Build(name, size, seed: 4);
        var unfolded = Build(name, size, seed: 4);
        BatchNormFolding.Fold(folded);
        var x = randn(2, 3, size, size);
        var (before, _) = Outputs(folded, x);
        var (control, _) = Outputs(unfolded, x);

        foreach (var model in new[] { folded, unfolded })
        {
            using var _ = no_grad();
            foreach (var bn in model.modules().OfType<BatchNorm2d>())
            {
                bn.running_mean!.add_(3.0);
                bn.running_var!.mul_(5.0);
                bn.weight!.mul_(-2.0);
            }
        }
        var (after, _) = Outputs(folded, x);
        var (controlAfter, _) = Outputs(unfolded, x);

        Assert.True(Same(after, before), $"{name}: the folded forward changed when its BatchNorms' statistics did");
        // The same change does move an unfolded model, so the check above can fail.
        Assert.True(RelativeError(controlAfter, control) > 1e-2);
    }

    [Fact]
    public void Folding_refuses_a_model_in_training_mode_and_a_folded_model_refuses_to_train()
    {
        using var scope = NewDisposeScope();
        var model = Build("resnet8", 32, seed: 5);
        model.train();
        var refused = Assert.Throws<InvalidOperationException>(() => BatchNormFolding.Fold(model));
        Assert.Contains("training mode", refused.Message);
        Assert.False(BatchNormFolding.IsFolded(model));

        // A module left in training mode under an eval root is refused as well.
        model.eval();
        model.modules().OfType<BatchNorm2d>().Last().train();
        Assert.Throws<InvalidOperationException>(() => BatchNormFolding.Fold(model));

        model.eval();
        BatchNormFolding.Fold(model);
        model.train();
        var training = Assert.Throws<InvalidOperationException>(() => model.call(randn(2, 3, 32, 32)));
        Assert.Contains("cannot run in training mode", training.Message);
    }

    [Fact]
    public void Folding_twice_folds_nothing_more_and_a_model_without_BatchNorms_folds_nothing()
    {
        using var scope = NewDisposeScope();
        var model = Build("resnet8", 32, seed: 6);
        var x = randn(2, 3, 32, 32);
        var pairs = BatchNormFolding.Fold(model);
        var (once, _) = Outputs(model, x);
        Assert.Equal(0, BatchNormFolding.Fold(model));
        Assert.True(Same(Outputs(model, x).Logits, once));
        Assert.True(pairs > 0);

        using var vit = ModelRegistry.Create("deit_ti_distilled", new ModelOptions(10, 32));
        vit.eval();
        Assert.False(BatchNormFolding.CanFold(vit));
        Assert.Equal(0, BatchNormFolding.Fold(vit));
    }

    [Fact]
    public void Folding_adds_conv_biases_to_the_folded_model_only()
    {
        var unfolded = Build("resnet18", 32, seed: 7);
        var keys = unfolded.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
        var folded = Build("resnet18", 32, seed: 7);
        BatchNormFolding.Fold(folded);

        // The unfolded (student) model keeps torchvision's keys: bias-free convs, the BatchNorms, the Sequential
        // shortcut's "downsample.0" / "downsample.1".
        Assert.DoesNotContain("conv1.bias", keys);
        Assert.Contains("layer2.0.downsample.0.weight", keys);
        Assert.Contains("layer2.0.downsample.1.running_mean", keys);
        var added = folded.state_dict().Keys.Except(keys).OrderBy(k => k, StringComparer.Ordinal).ToList();
        Assert.Contains("conv1.bias", added);
        Assert.Contains("layer2.0.downsample.0.bias", added);
        Assert.All(added, k => Assert.EndsWith(".bias", k));
        Assert.Equal(unfolded.modules().OfType<BatchNorm2d>().Count(), added.Count);
        unfolded.Dispose();
        folded.Dispose();
    }

    [Fact]
    public void A_model_teacher_folds_in_float32_then_runs_in_bfloat16_and_refuses_to_fold_after()
    {
        using var scope = NewDisposeScope();
        var x = randn(4, 3, 64, 64);
        using var reference = new ModelTeacher(Build("regnety_002", 64, seed: 8), "regnety_002");
        using var teacher = new ModelTeacher(Build("regnety_002", 64, seed: 8), "regnety_002");
        var expected = reference.Forward(x);

        Assert.True(teacher.FoldBatchNorm() > 0);
        Assert.True(teacher.BatchNormFolded);
        Assert.True(RelativeError(teacher.Forward(x).Features, expected.Features) < 1e-5);
        teacher.SetPrecision(ScalarType.BFloat16);
        var reduced = teacher.Forward(x);
        Assert.Equal(ScalarType.Float32, reduced.Features.dtype);
        // bf16 rounding (~2^-8 per op), not a wrong fold.
        Assert.InRange(RelativeError(reduced.Features, expected.Features), 1e-5, 0.05);

        reference.SetPrecision(ScalarType.BFloat16);
        var late = Assert.Throws<InvalidOperationException>(() => reference.FoldBatchNorm());
        Assert.Contains("before moving it to BFloat16", late.Message);
        Assert.False(reference.BatchNormFolded);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Folded_and_channels_last_outputs_equal_the_unfolded_models(string name, int size)
    {
        using var scope = NewDisposeScope();
        var x = randn(4, 3, size, size);
        using var reference = new ModelTeacher(Build(name, size, seed: 9), name);
        using var teacher = new ModelTeacher(Build(name, size, seed: 9), name);
        var expected = reference.Forward(x);
        teacher.FoldBatchNorm();
        Assert.True(teacher.UseChannelsLast() > 0);
        Assert.True(teacher.UsesChannelsLast);
        Assert.Contains(teacher.Model.modules().OfType<Conv2d>(), c => c.weight.shape[2] == 3 && ChannelsLast.Is(c.weight));
        var actual = teacher.Forward(x);

        Assert.True(RelativeError(actual.Features, expected.Features) < 1e-5, name);
        Assert.True(RelativeError(actual.Logits!, expected.Logits!) < 1e-5, name);
        // The layout survives the move to bfloat16.
        teacher.SetPrecision(ScalarType.BFloat16);
        Assert.Contains(teacher.Model.modules().OfType<Conv2d>(), c => c.weight.shape[2] == 3 && c.weight.dtype == ScalarType.BFloat16 && ChannelsLast.Is(c.weight));
    }

    [Fact]
    public void A_channels_last_copy_keeps_shape_and_values_with_channels_innermost()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 4, 5);
        var cl = ChannelsLast.Copy(x);
        Assert.Equal(x.shape, cl.shape);
        Assert.True(Same(x, cl));
        Assert.Equal([60L, 1L, 15L, 3L], cl.stride());
        Assert.True(ChannelsLast.Is(cl));
        Assert.False(ChannelsLast.Is(x));
        Assert.Throws<ArgumentException>(() => ChannelsLast.Copy(randn(3, 4)));
    }

    [Fact]
    public void A_folded_model_is_neither_exported_to_onnx_nor_saved_in_a_checkpoint()
    {
        using var model = Build("resnet8", 32, seed: 10);
        BatchNormFolding.Fold(model);
        var path = Path.Combine(Path.GetTempPath(), $"vkd-folded-{Guid.NewGuid():N}.onnx");
        var onnx = Assert.Throws<NotSupportedException>(() => VkD.Interop.Onnx.OnnxExporter.Export(model, path));
        Assert.Contains("folded", onnx.Message);
        Assert.False(File.Exists(path));

        var checkpoint = Path.Combine(Path.GetTempPath(), $"vkd-folded-{Guid.NewGuid():N}.pth");
        var save = Assert.Throws<InvalidOperationException>(() => VkD.Training.Checkpoints.TrainingCheckpoint.Save(checkpoint,
            new VkD.Training.Loop.RunState(), [new VkD.Training.Loop.CheckpointPart("student", [model])], [], 0, new Dictionary<string, object?>()));
        Assert.Contains("folded", save.Message);
        Assert.False(File.Exists(checkpoint));
    }
}
