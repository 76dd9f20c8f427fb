using System.Diagnostics;
using TorchSharp;
using VkD.Distillation.Losses;
using VkD.Distillation.Projectors;
using VkD.Distillation.Teachers;
using VkD.Models;
using static TorchSharp.torch;

namespace VkD.OnnxDistillDemo;

/// <summary>The comparison: the same student, data, schedule and seeds, trained with cross-entropy alone and with
/// cross-entropy + VkD feature distillation from the cached ONNX ResNet-18 features (gamma = 0: the teacher has no
/// logits). Also a linear probe on the teacher features, to show what the teacher knows about this data.</summary>
internal static class Experiment
{
    public static int Run(DemoOptions o, PhotoFolder train, PhotoFolder val, FeatureCache cache)
    {
        var numClasses = train.Classes.Length;
        using var trainX = train.Normalised(arange(train.Count, dtype: ScalarType.Int64), o.Size);
        using var valX = val.Normalised(arange(val.Count, dtype: ScalarType.Int64), o.Size);
        using var trainY = tensor(train.Labels);
        using var valY = tensor(val.Labels);

        var probe = LinearProbe(cache, trainY, valY, numClasses);
        Console.WriteLine($"teacher linear probe (ResNet-18 ONNX features, 224 px): val top-1 {probe:F2}%");

        var rows = new List<(int Seed, double Baseline, double Distilled)>();
        foreach (var seed in o.Seeds)
        {
            var baseline = Train(o, seed, distill: false, trainX, trainY, valX, valY, cache, numClasses);
            var distilled = Train(o, seed, distill: true, trainX, trainY, valX, valY, cache, numClasses);
            rows.Add((seed, baseline, distilled));
            Console.WriteLine($"| {seed} | {baseline:F2} | {distilled:F2} |");
        }
        static (double Mean, double Std) Stats(IEnumerable<double> v)
        {
            var a = v.ToArray();
            var m = a.Average();
            return (m, a.Length > 1 ? Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / (a.Length - 1)) : 0);
        }
        var b = Stats(rows.Select(r => r.Baseline));
        var d = Stats(rows.Select(r => r.Distilled));
        Console.WriteLine($"| mean ± std | {b.Mean:F2} ± {b.Std:F2} | {d.Mean:F2} ± {d.Std:F2} |");
        return 0;
    }

    private static double Train(DemoOptions o, int seed, bool distill, Tensor trainX, Tensor trainY, Tensor valX, Tensor valY,
        FeatureCache cache, int numClasses)
    {
        manual_seed(seed);
        var sw = Stopwatch.StartNew();
        using var model = ModelRegistry.Create(o.Student, new ModelOptions(NumClasses: numClasses, ImgSize: o.Size));
        using var loss = distill
            ? DistillationLoss.ForClassification(ProjectorFactory.Create("auto", model.NumFeatures, (int)cache.Train.shape[1]),
                new DistillationLossOptions(Alpha: o.Alpha, Gamma: 0))
            : null;
        var parameters = model.parameters().Concat(loss?.parameters() ?? []).ToList();
        using var optimizer = optim.SGD(parameters, o.Lr, momentum: 0.9, weight_decay: 5e-4, nesterov: true);
        var n = trainX.shape[0];
        var steps = (int)Math.Ceiling(n / (double)o.BatchSize);
        var total = o.Epochs * steps;
        var step = 0;
        var generator = new Generator((ulong)(1000 + seed));
        for (var epoch = 0; epoch < o.Epochs; epoch++)
        {
            model.train();
            loss?.train();
            using var perm = randperm(n, generator: generator);
            for (var s = 0; s < steps; s++, step++)
            {
                using var scope = NewDisposeScope();
                foreach (var g in optimizer.ParamGroups)
                {
                    g.LearningRate = 0.5 * o.Lr * (1 + Math.Cos(Math.PI * step / total));
                }
                var idx = perm.narrow(0, s * o.BatchSize, Math.Min(o.BatchSize, n - (s * o.BatchSize)));
                // Random horizontal flip per image; the teacher features of the mirrored image were cached too.
                var flip = rand([idx.shape[0]], generator: generator) < 0.5;
                var x = trainX.index_select(0, idx);
                x = where(flip.view(-1, 1, 1, 1), x.flip(3), x);
                var y = trainY.index_select(0, idx);
                Tensor total_loss;
                if (loss is null)
                {
                    total_loss = nn.functional.cross_entropy(model.forward(x), y);
                }
                else
                {
                    var t = where(flip.view(-1, 1), cache.TrainFlipped.index_select(0, idx), cache.Train.index_select(0, idx));
                    var outputs = model.ForwardForDistillation(x);
                    using var terms = loss.Compute(outputs.Logits, outputs.DistillationLogits, outputs.PooledFeatures, y, new TeacherOutputs(null, t));
                    total_loss = terms.Total.alias();
                }
                optimizer.zero_grad();
                total_loss.backward();
                optimizer.step();
            }
        }
        var acc = Accuracy(model, valX, valY);
        Console.WriteLine($"  seed {seed} {(distill ? "VkD (ONNX teacher)" : "baseline")}: val top-1 {acc:F2}% ({sw.Elapsed.TotalSeconds:F0} s)");
        return acc;
    }

    private static double Accuracy(ClassifierModel model, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        var correct = 0L;
        for (var i = 0; i < x.shape[0]; i += 128)
        {
            var len = Math.Min(128, x.shape[0] - i);
            correct += model.forward(x.narrow(0, i, len)).argmax(1).eq(y.narrow(0, i, len)).sum().item<long>();
        }
        return 100.0 * correct / x.shape[0];
    }

    /// <summary>Multinomial logistic regression on the teacher's train features (plain and mirrored), scored on val.</summary>
    private static double LinearProbe(FeatureCache cache, Tensor trainY, Tensor valY, int numClasses)
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        var xs = cat([cache.Train, cache.TrainFlipped]);
        var ys = cat([trainY, trainY]);
        var mean = xs.mean([0]);
        var std = xs.std([0]) + 1e-6;
        xs = (xs - mean) / std;
        var xv = (cache.Val - mean) / std;
        using var head = nn.Linear(xs.shape[1], numClasses);
        using var opt = optim.Adam(head.parameters(), 1e-3, weight_decay: 1e-3);
        for (var i = 0; i < 300; i++)
        {
            using var inner = NewDisposeScope();
            opt.zero_grad();
            nn.functional.cross_entropy(head.forward(xs), ys).backward();
            opt.step();
        }
        using var noGrad = no_grad();
        return 100.0 * head.forward(xv).argmax(1).eq(valY).sum().item<long>() / valY.shape[0];
    }
}
