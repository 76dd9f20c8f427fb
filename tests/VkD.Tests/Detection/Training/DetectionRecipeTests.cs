using TorchSharp.Modules;
using VkD.Detection.Data;
using VkD.Detection.Evaluation;
using VkD.Detection.Models;
using VkD.Detection.Training;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Tests.Detection.Training;

/// <summary>ViDT's recipe pieces of the detection task: the lagged per-epoch cosine, the
/// AdamW groups on the full Swin-nano ViDT with VkD's projectors, the train scales, the batch source and the data
/// layout.</summary>
public sealed class DetectionRecipeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-det-recipe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_loop_runs_vidts_cosine_per_epoch_with_the_one_epoch_lag()
    {
        var o = DetectionTraining.LoopOptions(new DetectionTrainingOptions { CocoPath = "coco", Model = DetectionTrainingTestData.Tiny(), Epochs = 50, Lr = 1e-4, MinLr = 1e-7 }, "vidt_nano");
        Assert.Equal("epoch", o.ScheduleUnit);
        Assert.Equal(1, o.ScheduleLagEpochs);
        Assert.Equal(0, o.WarmupEpochs);
        const int ipe = 7;
        var s = new LearningRateSchedule(CosineLrScheduler.FromEpochs(o.Lr, o.MinLr, o.Epochs, o.WarmupEpochs, o.WarmupLr, ipe), ipe, perEpoch: true, o.ScheduleLagEpochs);
        double Cosine(int t) => 1e-7 + (0.5 * (1e-4 - 1e-7) * (1 + Math.Cos(Math.PI * t / 50)));
        Assert.Equal(1e-4, s.LearningRate(0));
        Assert.Equal(1e-4, s.LearningRate((1 * ipe) + 6)); // the scheduler's step(0) at the end of epoch 0 sets lr(0) = the base rate
        for (var e = 2; e < 50; e++)
        {
            Assert.Equal(Cosine(e - 1), s.LearningRate((long)e * ipe), 15);
        }
        Assert.True(s.LearningRate((49 * ipe) + 6) > 1e-7 * 1.5, "the last epoch runs at lr(48), above --min-lr");
    }

    [Fact]
    public void Parameter_groups_on_vidt_nano_with_vkd_projectors_follow_vidts_build_optimizer()
    {
        using var detector = new VidtDetector(VidtConfig.Nano);
        using var distiller = VidtDistillation.CreateVkd();
        var groups = VidtParameterGroups.Build(detector, 1e-4, distiller);
        Assert.Equal(["head", "backbone_no_decay", "backbone_decay"], groups.Select(g => g.Name));
        Assert.Equal([1e-4, 0.0, 1e-4], groups.Select(g => g.WeightDecay));
        var all = detector.named_parameters().Concat(distiller.named_parameters()).ToList();
        Assert.Equal(all.Count, groups.Sum(g => g.Parameters.Count));
        Assert.Equal(all.Sum(p => p.parameter.numel()), groups.Sum(g => g.Parameters.Sum(p => p.numel())));
        var groupOf = groups.SelectMany(g => g.ParameterNames.Select(n => (n, g.Name))).ToDictionary(x => x.n, x => x.Name);
        // Outside the backbone ViDT decays everything, biases and norms included, and VkD's projectors with them.
        Assert.Equal("head", groupOf["class_embed.0.bias"]);
        Assert.Equal("head", groupOf["input_proj.0.1.weight"]);
        Assert.Equal("head", groupOf["transformer.decoder.layers.0.norm1.bias"]);
        Assert.Equal("head", groupOf["patch_projector_1.projector.parametrizations.weight.original"]);
        Assert.Equal("head", groupOf["neck_det_projector.weight"]);
        // Backbone: 1-D, biases, det_token and det_pos_embed without decay; the rest (relative position tables too) with.
        Assert.Equal("backbone_no_decay", groupOf["backbone.det_token"]);
        Assert.Equal("backbone_no_decay", groupOf["backbone.det_pos_embed"]);
        Assert.Equal("backbone_no_decay", groupOf["backbone.patch_embed.proj.bias"]);
        Assert.Equal("backbone_no_decay", groupOf["backbone.layers.0.blocks.0.norm1.weight"]);
        Assert.Equal("backbone_decay", groupOf["backbone.layers.0.blocks.0.attn.qkv.weight"]);
        Assert.Equal("backbone_decay", groupOf["backbone.layers.0.blocks.0.attn.relative_position_bias_table"]);
        Assert.Equal("backbone_decay", groupOf["backbone.layers.0.blocks.0.det_pos_linear.weight"]);
        Assert.All(groups[0].ParameterNames, n => Assert.DoesNotContain("backbone", n));
        // The head group keeps model order with the projectors last, as VkD adds them to the model after it is built.
        Assert.StartsWith("patch_projector_1.", groups[0].ParameterNames[^18]);
    }

    [Fact]
    public void The_train_recipe_at_800_px_is_vidts_and_scales_down_for_small_images()
    {
        Assert.Equal(VidtTransforms.DefaultScales, VidtTransforms.ScalesAtSize(800));
        Assert.Equal([80, 96, 112, 128], VidtTransforms.ScalesAtSize(128));
        Assert.Equal([32, 48, 64], VidtTransforms.ScalesAtSize(64));
        Assert.Equal([32, 40], VidtTransforms.ScalesAtSize(40));
        Assert.Throws<ArgumentOutOfRangeException>(() => VidtTransforms.TrainAtSize(16));
    }

    [Fact]
    public void The_batch_source_is_a_function_of_seed_epoch_and_position()
    {
        var data = DetectionTrainingTestData.MakeSets(Path.Combine(_dir, "data"), trainImages: 7, valImages: 1);
        var gt = CocoDataset.Load(Path.Combine(data, "train", "annotations.json"));
        var dataset = new CocoDetectionDataset(gt, Path.Combine(data, "train"), VidtTransforms.TrainAtSize(64));
        var source = new DetectionBatchSource(dataset, batchSize: 2, seed: 3);
        Assert.Equal(7, source.Count);
        Assert.Equal(3, source.BatchesPerEpoch); // drop_last, as ViDT's BatchSampler
        Assert.Equal(Enumerable.Range(0, 7), source.EpochIndices(0).Order());
        Assert.NotEqual(source.EpochIndices(0), source.EpochIndices(1));
        var serial = new DetectionBatchSource(dataset, batchSize: 2, seed: 3, prefetch: false);
        var epoch = source.GetEpoch(1).ToList();
        var resumed = serial.GetEpoch(1, startBatch: 1).ToList();
        Assert.Equal(3, epoch.Count);
        Assert.Equal(2, resumed.Count);
        for (var b = 0; b < 2; b++)
        {
            Assert.Equal(epoch[b + 1].Examples.Select(e => e.Target.ImageId), resumed[b].Examples.Select(e => e.Target.ImageId));
            Assert.True(epoch[b + 1].Images.eq(resumed[b].Images).all().item<bool>(), "same batch, same augmentation");
            Assert.True(epoch[b + 1].Examples.Zip(resumed[b].Examples).All(x => x.First.Boxes.eq(x.Second.Boxes).all().item<bool>()));
        }
        // Two ranks split the padded permutation like torch's DistributedSampler: together they visit every image.
        var ranks = new[] { 0, 1 }.Select(r => new DetectionBatchSource(dataset, 2, 3, r, 2)).ToList();
        Assert.All(ranks, r => Assert.Equal(4, r.Count));
        Assert.Equal(Enumerable.Range(0, 7), ranks.SelectMany(r => r.EpochIndices(0)).Distinct().Order());
        foreach (var batch in epoch.Concat(resumed))
        {
            batch.Dispose();
        }
    }

    [Fact]
    public void The_data_layout_is_cocos_or_two_generated_sets_and_errors_name_the_paths()
    {
        var data = DetectionTrainingTestData.MakeSets(Path.Combine(_dir, "gen"), trainImages: 2, valImages: 1);
        var layout = DetectionDataLayout.Resolve(data);
        Assert.Equal(Path.Combine(data, "train", "annotations.json"), layout.TrainAnnotations);
        Assert.Equal(Path.Combine(data, "val"), layout.ValImages);

        var coco = Path.Combine(_dir, "coco");
        Directory.CreateDirectory(Path.Combine(coco, "annotations"));
        File.Copy(Path.Combine(data, "train", "annotations.json"), Path.Combine(coco, "annotations", "instances_train2017.json"));
        var missingVal = Assert.Throws<FileNotFoundException>(() => DetectionDataLayout.Resolve(coco));
        Assert.Contains("instances_val2017.json", missingVal.Message);
        File.Copy(Path.Combine(data, "val", "annotations.json"), Path.Combine(coco, "annotations", "instances_val2017.json"));
        var missingImages = Assert.Throws<DirectoryNotFoundException>(() => DetectionDataLayout.Resolve(coco));
        Assert.Contains("train2017", missingImages.Message);
        Directory.CreateDirectory(Path.Combine(coco, "train2017"));
        Directory.CreateDirectory(Path.Combine(coco, "val2017"));
        Assert.Equal(Path.Combine(coco, "val2017"), DetectionDataLayout.Resolve(coco).ValImages);

        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var neither = Assert.Throws<FileNotFoundException>(() => DetectionDataLayout.Resolve(empty));
        Assert.Contains("instances_train2017.json", neither.Message);
        Assert.Contains(Path.Combine("train", "annotations.json"), neither.Message);
    }
}
