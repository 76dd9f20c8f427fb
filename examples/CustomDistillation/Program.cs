// Distils a user's own TorchSharp teacher into a user's own student with VkD: a cross-entropy term, logit KD, and an
// orthogonal-projector feature pair on a hidden layer tapped by its module path. The one training loop supplies logs,
// checkpoints and exact resume. The problem is tiny (3 Gaussian classes in 16-d) so it runs in seconds on any CPU.
using System.Globalization;
using TorchSharp;
using VkD.Distillation.Distiller;
using VkD.Distillation.Normalization;
using VkD.Distillation.Projectors;
using VkD.Training.Loop;
using VkD.Training.Options;
using VkD.Training.Tasks;
using static TorchSharp.torch;

var outDir = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "vkd-custom-distillation");
if (Directory.Exists(outDir))
{
    Directory.Delete(outDir, recursive: true);
}
set_num_threads(1);
random.manual_seed(0);
var train = new ClusterData(batches: 16, batchSize: 32, seed: 1);
var test = new ClusterData(batches: 4, batchSize: 64, seed: 2);

// 1. A wide teacher, trained with the same loop and a cross-entropy-only distiller.
var teacher = nn.Sequential(("body", nn.Sequential(("0", nn.Linear(16, 128)), ("1", nn.ReLU()))), ("head", nn.Linear(128, 3)));
var teacherRun = Train(teacher, "teacher", new FeatureDistiller([new CrossEntropyTerm()]), teacherFeatures: null, Path.Combine(outDir, "teacher"), epochs: 3);
teacher.eval();

// 2. A narrow student distilled from it: CE + KD + VkD's orthogonal projector (16 -> 128) on the hidden features,
//    with the teacher's features layer-normalised, as the paper's classification recipe does.
var student = nn.Sequential(("body", nn.Sequential(("0", nn.Linear(16, 16)), ("1", nn.ReLU()))), ("head", nn.Linear(16, 3)));
var distiller = new FeatureDistiller(
[
    new CrossEntropyTerm(),
    new LogitKdTerm(Temperature: 1.0, Weight: 1.0),
    new FeaturePairTerm("repr", "body", "body", new OrthogonalProjector(16, 128), teacherNormalization: new LayerStandardization()),
]);
using var teacherTaps = new ModuleTaps(teacher, ["body"]);
var studentRun = Train(student, "student", distiller, batch =>
{
    var logits = teacher.call(batch.X);
    return teacherTaps.AddTo(new FeatureSet("teacher").Add(FeatureNames.Logits, logits));
}, Path.Combine(outDir, "student"), epochs: 3);

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"teacher acc {teacherRun.Final!["acc"]:F1}%, student acc {studentRun.Final!["acc"]:F1}% after {studentRun.Steps} steps; logs and checkpoints in {outDir}"));
if (!(studentRun.Final["acc"] > 60))
{
    Console.Error.WriteLine("The distilled student did not learn the clusters.");
    return 1;
}
return 0;

LoopResult Train(nn.Module<Tensor, Tensor> model, string name, FeatureDistiller terms, Func<ClusterBatch, FeatureSet>? teacherFeatures, string dir, int epochs)
{
    using var taps = new ModuleTaps(model, ["body"]);
    using var task = new FeatureDistillationTask<ClusterBatch>(new FeatureDistillationTaskSetup<ClusterBatch>
    {
        Student = model,
        Name = name,
        StudentFeatures = batch => taps.AddTo(new FeatureSet("student").Add(FeatureNames.Logits, model.call(batch.X))),
        TeacherFeatures = teacherFeatures,
        Targets = batch => batch.Y,
        Distiller = terms,
        BatchSize = batch => (int)batch.X.shape[0],
        Evaluate = m => Accuracy((nn.Module<Tensor, Tensor>)m, test),
        MetricNames = ["acc"],
        Lr = 1e-2,
    });
    var options = new TrainingOptions { Epochs = epochs, BatchSize = 32, Lr = 1e-2, MinLr = 1e-4, Seed = 0, OutputDir = dir, SaveEvery = 1 };
    return new TrainingLoop<ClusterBatch>(new LoopSetup<ClusterBatch> { Task = task, Train = train, Options = options }).Run();
}

static MetricSet Accuracy(nn.Module<Tensor, Tensor> model, ClusterData data)
{
    long correct = 0, total = 0;
    foreach (var batch in data.GetEpoch(0))
    {
        using (batch)
        using (var scope = NewDisposeScope())
        {
            correct += model.call(batch.X).argmax(1).eq(batch.Y).sum().item<long>();
            total += batch.Y.shape[0];
        }
    }
    return new MetricSet(new Dictionary<string, double> { ["acc"] = 100.0 * correct / total }, (int)total);
}

/// <summary>One batch of the cluster problem.</summary>
internal sealed record ClusterBatch(Tensor X, Tensor Y) : IDisposable
{
    public void Dispose()
    {
        X.Dispose();
        Y.Dispose();
    }
}

/// <summary>Three Gaussian clusters in 16-d; batch i of epoch e is drawn from its own seed, so resume is exact.</summary>
internal sealed class ClusterData(int batches, int batchSize, int seed) : IBatchSource<ClusterBatch>
{
    // The same three centres for the training and the test split; only the samples differ by seed.
    private readonly Tensor _centres = randn([3, 16], generator: new Generator(42)) * 0.5;

    public int Count => batches * batchSize;

    public int BatchesPerEpoch => batches;

    public IEnumerable<ClusterBatch> GetEpoch(int epoch, int startBatch = 0)
    {
        for (var i = startBatch; i < batches; i++)
        {
            using var g = new Generator((ulong)(seed * 100_000 + epoch * 1000 + i));
            var y = randint(0, 3, [batchSize], generator: g);
            var x = _centres.index_select(0, y) + randn([batchSize, 16], generator: g);
            yield return new ClusterBatch(x, y);
        }
    }
}
