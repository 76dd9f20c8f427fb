using TorchSharp;
using TorchSharp.Modules;
using VkD.Distillation.Distiller;
using VkD.Distillation.Losses;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using VkD.Distillation.Teachers;
using VkD.Generation.Augmentation;
using VkD.Generation.Evaluation;
using VkD.Generation.Losses;
using VkD.Generation.Models;
using VkD.Training.Loop;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Generation.Training;

/// <summary>The GAN recipe of DiffAugment-BigGAN + LeCam on CIFAR (the reference's scripts), as defaults.</summary>
public sealed record GanTrainingOptions
{
    /// <summary>Images per D step and per G step (<c>--batch_size 50</c>).</summary>
    public int BatchSize { get; init; } = 50;

    /// <summary>D steps per G step (<c>--num_D_steps 4</c>); a batch holds <c>DSteps · BatchSize</c> real images.</summary>
    public int DSteps { get; init; } = 4;

    /// <summary>D's Adam learning rate (<c>--D_lr 2e-4</c>).</summary>
    public double DLr { get; init; } = 2e-4;

    /// <summary>G's Adam learning rate (<c>--G_lr 2e-4</c>); the loop's schedule runs at this rate (D's is scaled).</summary>
    public double GLr { get; init; } = 2e-4;

    /// <summary>Adam β1 of both (BigGAN's 0).</summary>
    public double Beta1 { get; init; }

    /// <summary>Adam β2 of both (BigGAN's 0.999).</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam epsilon (BigGAN's 1e-8).</summary>
    public double AdamEps { get; init; } = 1e-8;

    /// <summary>DiffAugment policy applied to D's real and fake inputs (<c>--DiffAugment translation,cutout</c>).</summary>
    public DiffAugmentPolicy Augment { get; init; } = DiffAugmentPolicy.TranslationCutout;

    /// <summary>LeCam weight (<c>--LC 0.3</c>); 0 disables it.</summary>
    public double LeCamWeight { get; init; } = 0.3;

    /// <summary>Decay of LeCam's EMAs of D's outputs.</summary>
    public double LeCamDecay { get; init; } = 0.9;

    /// <summary>Iteration after which LeCam applies (lecam-gan's <c>ema_losses(start_itr=1000)</c>).</summary>
    public long LeCamStart { get; init; } = 1000;

    /// <summary>Decay of the EMA of G (<c>--ema_decay 0.9999</c>), constant from <see cref="EmaStart"/> on.</summary>
    public double EmaDecay { get; init; } = 0.9999;

    /// <summary>First step whose EMA update averages (<c>--ema_start 1000</c>); before it the EMA copies G.</summary>
    public long EmaStart { get; init; } = 1000;

    /// <summary>Switch off the gradients of the network that is not being trained in each phase (BigGAN's
    /// <c>--toggle_grads</c>, on by default): the same updates, less work.</summary>
    public bool ToggleGrads { get; init; } = true;

    /// <summary>Where evaluations write their sample grids (<c>samples_epoch{N}.png</c>); null writes none.</summary>
    public string? GridFolder { get; init; }

    /// <summary>Columns of a sample grid (samples per class).</summary>
    public int GridPerClass { get; init; } = 10;

    /// <summary>Seed of the grid's fixed noise.</summary>
    public long GridSeed { get; init; } = 77;
}

/// <summary>
/// Distillation of D (VkD's generation experiment on KD-DLGAN's setting): D's feature head on its real and fake
/// inputs goes through one projector shared by the two pairs, the frozen teacher sees the same augmented images, and
/// its features are normalised (whitening by default) before the distance.
/// </summary>
public sealed record GanDistillationSetup
{
    /// <summary>The frozen encoder (any zoo model, checkpoint or ONNX model through <see cref="ITeacher"/>).</summary>
    public required ITeacher Teacher { get; init; }

    /// <summary>How D's inputs become the teacher's (size, channels, normalisation).</summary>
    public required GanImageAdapter TeacherInput { get; init; }

    /// <summary>Normalisation of the teacher's features (whitening, layer norm or none).</summary>
    public IFeatureNormalization TeacherNormalization { get; init; } = new Whitening(WhiteningMethod.Zca, 0.1, ShrinkageTarget.ScaledIdentity);

    /// <summary>Projector kind (<see cref="ProjectorFactory"/>; <c>auto</c> is PyTorch's orthogonal default for the shape).</summary>
    public string Projector { get; init; } = "auto";

    /// <summary>Weight of each of the two feature terms in D's loss.</summary>
    public double Weight { get; init; } = 1.0;

    /// <summary>The distance (SmoothL1 with β = 1, as VkD's other tasks).</summary>
    public FeatureLoss Distance { get; init; } = new();
}

/// <summary>
/// A class-conditional BigGAN trained by the one training loop: <see cref="GanTrainingOptions.DSteps"/> D phases
/// (each its own real chunk and fresh noise: hinge loss on DiffAugment-ed fake and real images in one D forward,
/// LeCam, and optionally the distillation of D's features) then one G phase (hinge on D of augmented fakes). Each
/// phase is one <see cref="TaskOptimizer"/> (D's Adam under <c>optimizer_d</c> for every D phase, G's under
/// <c>optimizer_g</c>), so the loop's NaN guard, clipping, checkpoints and exact resume cover both networks. G is in
/// training mode in every phase (batch statistics, spectral-norm updates), as in BigGAN's <c>train_fns</c>.
/// Checkpoint entries: <c>generator</c>, <c>discriminator</c> (D and the distillation projector), <c>lecam</c>,
/// and <c>generator_ema</c>, the loop's EMA of G under BigGAN's rule (<see cref="EmaSchedule"/>).
/// </summary>
public sealed class GanTask : ITrainingTask<GanBatch>, IDisposable
{
    private readonly GanTrainingOptions _o;
    private readonly GanDistillationSetup? _distill;
    private readonly GanEvaluator? _evaluator;
    private readonly FeatureDistiller? _distiller;
    private readonly DiffAugmenter _augmenter;
    private readonly AdamWOptimizer _dOptimizer;
    private readonly AdamWOptimizer _gOptimizer;
    private readonly Device _device;
    private int _lastEpoch = -1;

    /// <summary>Builds G and D of <paramref name="config"/> (D with the feature head when distilling, sized to the
    /// teacher unless <see cref="BigGanConfig.FeatureHead"/> already sets it), LeCam, the distiller and both Adams.
    /// Seed the global generator first: the initial weights come from it.</summary>
    public GanTask(BigGanConfig config, GanTrainingOptions? options = null, GanDistillationSetup? distillation = null, GanEvaluator? evaluator = null,
        Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        _o = options ?? new GanTrainingOptions();
        if (_o.BatchSize < 2 || _o.DSteps < 1 || !(_o.DLr > 0) || !(_o.GLr > 0))
        {
            throw new ArgumentException($"GAN training: batch size ({_o.BatchSize}) must be >= 2, D steps ({_o.DSteps}) >= 1 and both learning rates > 0.");
        }
        if (_o.EmaDecay is not (>= 0 and <= 1) || _o.EmaStart < 0)
        {
            throw new ArgumentException($"GAN training: the EMA decay ({_o.EmaDecay}) must be in [0, 1] and its start step ({_o.EmaStart}) >= 0.");
        }
        _distill = distillation;
        _evaluator = evaluator;
        _device = device ?? CPU;
        if (distillation is not null && !config.FeatureHead)
        {
            config = config with { FeatureHead = true, FeatureDim = distillation.Teacher.FeatureDim };
        }
        Config = config;
        Generator = new BigGanGenerator(config);
        Discriminator = new BigGanDiscriminator(config);
        LeCam = new LeCamRegularizer(_o.LeCamWeight, _o.LeCamDecay, _o.LeCamStart);
        _augmenter = new DiffAugmenter(_o.Augment);
        var dParameters = Discriminator.named_parameters().ToList();
        if (distillation is not null)
        {
            if (config.FeatureDim > distillation.Teacher.FeatureDim && !distillation.Projector.Equals("linear", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"D's feature head gives {config.FeatureDim} features but the teacher {distillation.Teacher.FeatureDim}; " +
                    "an orthogonal projector needs d_s <= d_t: use a smaller head or a linear projector.");
            }
            var projector = ProjectorFactory.Create(distillation.Projector, config.FeatureDim, distillation.Teacher.FeatureDim);
            _distiller = new FeatureDistiller(
            [
                new FeaturePairTerm("distill_real", "real", "real", projector, teacherNormalization: distillation.TeacherNormalization,
                    distance: distillation.Distance, weight: distillation.Weight),
                new FeaturePairTerm("distill_fake", "fake", "fake", projector, teacherNormalization: distillation.TeacherNormalization,
                    distance: distillation.Distance, weight: distillation.Weight),
            ]);
            // The projector learns with D, whose loss it is in (the reference's snippet keeps it on G, where BigGAN's
            // G.optim.zero_grad() before the G step would leave it at its initial value).
            dParameters.AddRange(_distiller.named_parameters());
        }
        Generator.to(_device);
        Discriminator.to(_device);
        _distiller?.to(_device);
        _dOptimizer = new AdamWOptimizer(WeightDecayGroups.Build(dParameters, 0), _o.DLr, _o.Beta1, _o.Beta2, _o.AdamEps);
        _gOptimizer = new AdamWOptimizer(WeightDecayGroups.Build(Generator.named_parameters(), 0), _o.GLr, _o.Beta1, _o.Beta2, _o.AdamEps);
        var phases = new List<TaskOptimizer>();
        for (var k = 0; k < _o.DSteps; k++)
        {
            phases.Add(new TaskOptimizer("optimizer_d", _dOptimizer, LrScale: _o.DLr / _o.GLr));
        }
        phases.Add(new TaskOptimizer("optimizer_g", _gOptimizer));
        Optimizers = phases;
        var dModules = new List<nn.Module> { Discriminator };
        if (_distiller is not null)
        {
            dModules.Add(_distiller);
        }
        CheckpointParts =
        [
            new CheckpointPart("generator", [Generator]),
            new CheckpointPart("discriminator", dModules),
            new CheckpointPart("lecam", [LeCam]),
        ];
        var names = new List<string> { "d_real", "d_fake", "lecam" };
        if (_distiller is not null)
        {
            names.AddRange(_distiller.TermNames);
        }
        names.Add("g_adv");
        TermNames = names;
    }

    /// <summary>The configuration (with the feature head as built).</summary>
    public BigGanConfig Config { get; }

    /// <summary>G.</summary>
    public BigGanGenerator Generator { get; }

    /// <summary>D.</summary>
    public BigGanDiscriminator Discriminator { get; }

    /// <summary>LeCam and its EMAs.</summary>
    public LeCamRegularizer LeCam { get; }

    /// <summary>The distiller of D's features, when distilling.</summary>
    public FeatureDistiller? Distiller => _distiller;

    /// <inheritdoc />
    public string ModelName => $"biggan32_ch{Config.Ch}";

    /// <inheritdoc />
    public IReadOnlyList<string> TermNames { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> MetricNames => _evaluator is null ? [] : GanEvaluator.MetricNames;

    /// <inheritdoc />
    public string BestMetric => "fid";

    /// <inheritdoc />
    public bool HigherIsBetter => false;

    /// <inheritdoc />
    public IReadOnlyList<TaskOptimizer> Optimizers { get; }

    /// <inheritdoc />
    public IReadOnlyList<CheckpointPart> CheckpointParts { get; }

    /// <inheritdoc />
    public (nn.Module Source, Func<nn.Module> CreateCopy, string Entry)? EmaTarget =>
        (Generator, () => new BigGanGenerator(Config).to(_device), "generator_ema");

    /// <summary>BigGAN's rule: <see cref="GanTrainingOptions.EmaDecay"/> constant from
    /// <see cref="GanTrainingOptions.EmaStart"/>, a copy of G before.</summary>
    public IEmaSchedule? EmaSchedule => new ConstantEmaSchedule(_o.EmaDecay, _o.EmaStart);

    /// <inheritdoc />
    public nn.Module FinalModel => Generator;

    /// <summary>True with an evaluator (FID/KID) or a grid folder (the sample grid is drawn at every evaluation).</summary>
    public bool HasEvaluation => _evaluator is not null || _o.GridFolder is not null;

    /// <summary>Real images a batch must hold: D steps × batch size.</summary>
    public int ImagesPerBatch => _o.DSteps * _o.BatchSize;

    /// <inheritdoc />
    public void SetTraining(bool training)
    {
        Generator.train(training);
        Discriminator.train(training);
    }

    /// <inheritdoc />
    public int BatchSize(GanBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return (int)batch.Images.shape[0];
    }

    /// <inheritdoc />
    public LossTerms ComputeLoss(int phase, GanBatch batch, StepContext context)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(context);
        _lastEpoch = context.Epoch;
        if (batch.Images.shape[0] != ImagesPerBatch)
        {
            throw new ArgumentException($"A GAN batch must hold D steps x batch size = {_o.DSteps} x {_o.BatchSize} = {ImagesPerBatch} images; got {batch.Images.shape[0]}.");
        }
        return phase < _o.DSteps ? DiscriminatorStep(phase, batch, context) : GeneratorStep(context);
    }

    private LossTerms DiscriminatorStep(int k, GanBatch batch, StepContext context)
    {
        var b = _o.BatchSize;
        using var g = new torch.Generator((ulong)context.SeedFor(0x0D00 + k), _device);
        ToggleGrads(dTrains: true);
        var real = batch.Images.narrow(0, k * b, b).to(_device);
        var realClasses = batch.Labels.narrow(0, k * b, b).to(_device);
        var (z, fakeClasses) = Noise(g);
        Tensor fake;
        using (no_grad())
        {
            fake = Generator.call(z, fakeClasses);
        }
        var classes = cat([fakeClasses, realClasses], 0);
        var augmented = Augment(cat([fake, real], 0), g);
        var outputs = Discriminator.Forward(augmented, classes, withFeatures: _distiller is not null);
        var fakeScores = outputs.Scores.narrow(0, 0, b);
        var realScores = outputs.Scores.narrow(0, b, b);
        var (lossReal, lossFake) = HingeLoss.Discriminator(realScores, fakeScores);
        // BigGAN's itr counts iterations from 1 and is incremented before the step.
        var iteration = context.Step + 1;
        LeCam.Update(realScores, fakeScores, iteration);
        var lecam = LeCam.IsActive(iteration) ? LeCam.Weight * LeCam.Penalty(realScores, fakeScores) : zeros([], lossReal.dtype, _device);
        var terms = new List<(string, Tensor)> { ("d_real", lossReal), ("d_fake", lossFake), ("lecam", lecam) };
        var total = lossReal + lossFake + lecam;
        if (_distiller is not null)
        {
            Tensor teacherFeatures;
            using (no_grad())
            {
                var teacherOutputs = _distill!.Teacher.Forward(_distill.TeacherInput.Apply(augmented.detach()));
                teacherOutputs.Logits?.Dispose();
                teacherFeatures = teacherOutputs.Features.to(_device);
            }
            var features = outputs.Features!;
            var student = new FeatureSet("student").Add("fake", features.narrow(0, 0, b)).Add("real", features.narrow(0, b, b));
            var teacher = new FeatureSet("teacher").Add("fake", teacherFeatures.narrow(0, 0, b)).Add("real", teacherFeatures.narrow(0, b, b));
            var distilled = _distiller.Compute(new LossInputs(student, teacher, null));
            terms.AddRange(distilled.Terms);
            total = total + distilled.Total;
        }
        return new LossTerms(terms, total);
    }

    private LossTerms GeneratorStep(StepContext context)
    {
        using var g = new torch.Generator((ulong)context.SeedFor(0x0E00), _device);
        ToggleGrads(dTrains: false);
        var (z, classes) = Noise(g);
        var fake = Generator.call(z, classes);
        var scores = Discriminator.Forward(Augment(fake, g), classes, withFeatures: false).Scores;
        var loss = HingeLoss.Generator(scores);
        return new LossTerms([("g_adv", loss)], loss.alias());
    }

    private (Tensor Z, Tensor Classes) Noise(torch.Generator g) =>
        (randn([_o.BatchSize, Config.DimZ], generator: g, device: _device),
         randint(0, Config.NumClasses, [_o.BatchSize], generator: g, device: _device));

    private Tensor Augment(Tensor images, torch.Generator g)
    {
        if (_o.Augment.Ops.Count == 0)
        {
            return images;
        }
        using var draw = DiffAugmentDraw.Sample(_o.Augment, images.shape[0], images.shape[2], images.shape[3], g);
        return _augmenter.Apply(images, draw);
    }

    private void ToggleGrads(bool dTrains)
    {
        if (!_o.ToggleGrads)
        {
            return;
        }
        foreach (var p in Discriminator.parameters())
        {
            p.requires_grad = dTrains;
        }
        foreach (var p in Generator.parameters())
        {
            p.requires_grad = !dTrains;
        }
    }

    /// <inheritdoc />
    public MetricSet? Evaluate(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is not BigGanGenerator generator)
        {
            throw new ArgumentException($"The GAN task evaluates generators, got {model.GetType().Name}.", nameof(model));
        }
        if (_o.GridFolder is not null)
        {
            var tag = ReferenceEquals(generator, Generator) ? "" : "_ema";
            using var grid = GanSampler.ClassGrid(generator, _o.GridPerClass, _o.GridSeed);
            SampleGrid.Write(Path.Combine(_o.GridFolder, $"samples_epoch{_lastEpoch + 1:D3}{tag}.png"), grid, _o.GridPerClass);
        }
        return _evaluator?.Evaluate(generator);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _dOptimizer.Dispose();
        _gOptimizer.Dispose();
        _distiller?.Dispose();
        LeCam.Dispose();
        Generator.Dispose();
        Discriminator.Dispose();
    }
}
