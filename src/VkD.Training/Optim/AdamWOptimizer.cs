using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Training.Optim;

/// <summary>
/// AdamW with PyTorch's exact single-tensor update (<c>torch.optim.AdamW</c>, amsgrad off): decoupled decay
/// <c>p ← p(1 − lr·wd)</c>, moments <c>m ← β1 m + (1−β1) g</c>, <c>v ← β2 v + (1−β2) g²</c>, then
/// <c>p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps)</c>. Written here rather than using TorchSharp's so that its
/// state (step and both moments per parameter) can be saved in PyTorch's optimizer layout and restored exactly.
/// </summary>
public sealed class AdamWOptimizer : ParameterGroupOptimizer
{
    private readonly Tensor?[] _expAvg;
    private readonly Tensor?[] _expAvgSq;
    private readonly long[] _step;

    /// <summary>Creates the optimiser over <paramref name="groups"/>.</summary>
    public AdamWOptimizer(IReadOnlyList<ParameterGroup> groups, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : base(groups, lr)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        _expAvg = new Tensor?[Flat.Length];
        _expAvgSq = new Tensor?[Flat.Length];
        _step = new long[Flat.Length];
    }

    /// <summary>β1.</summary>
    public double Beta1 { get; }

    /// <summary>β2.</summary>
    public double Beta2 { get; }

    /// <summary>Epsilon.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    protected override void Update(int i, Parameter p, Tensor grad, ParameterGroup group)
    {
        if (_expAvg[i] is null)
        {
            _expAvg[i] = zeros_like(p).DetachFromDisposeScope();
            _expAvgSq[i] = zeros_like(p).DetachFromDisposeScope();
        }
        var m = _expAvg[i]!;
        var v = _expAvgSq[i]!;
        _step[i]++;
        if (group.WeightDecay != 0)
        {
            p.mul_(1 - LearningRate * group.WeightDecay);
        }
        m.lerp_(grad, 1 - Beta1);
        v.mul_(Beta2).addcmul_(grad, grad, 1 - Beta2);
        var bias1 = 1 - Math.Pow(Beta1, _step[i]);
        var bias2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, _step[i]));
        var denom = v.sqrt().div_(bias2Sqrt).add_(Eps);
        p.addcdiv_(m, denom, -(LearningRate / bias1));
    }

    /// <summary>The state in PyTorch's <c>optimizer.state_dict()</c> layout: <c>state</c> (index →
    /// {step, exp_avg, exp_avg_sq}) and <c>param_groups</c> (hyper-parameters + parameter indices).
    /// Tensors are copies the caller owns.</summary>
    public override Dictionary<string, object?> StateDict()
    {
        var state = new Dictionary<long, object?>();
        for (var i = 0; i < Flat.Length; i++)
        {
            if (_expAvg[i] is null)
            {
                continue;
            }
            state[i] = new Dictionary<string, object?>
            {
                ["step"] = tensor((float)_step[i]),
                ["exp_avg"] = _expAvg[i]!.clone(),
                ["exp_avg_sq"] = _expAvgSq[i]!.clone(),
            };
        }
        return StateDictOf(state, g => new Dictionary<string, object?>
        {
            ["lr"] = LearningRate,
            ["betas"] = new List<object?> { Beta1, Beta2 },
            ["eps"] = Eps,
            ["weight_decay"] = g.WeightDecay,
            ["amsgrad"] = false,
            ["maximize"] = false,
        });
    }

    /// <summary>Restores the state written by <see cref="StateDict"/> (as read back from a checkpoint).</summary>
    public override void LoadStateDict(IReadOnlyDictionary<string, object?> dict)
    {
        LoadGroups(dict);
        if (dict.GetValueOrDefault("state") is not System.Collections.IDictionary state)
        {
            throw new InvalidDataException("Optimizer state has no 'state' mapping.");
        }
        using var _ = no_grad();
        foreach (System.Collections.DictionaryEntry e in state)
        {
            var i = (int)System.Convert.ToInt64(e.Key, System.Globalization.CultureInfo.InvariantCulture);
            if (i < 0 || i >= Flat.Length || e.Value is not IReadOnlyDictionary<string, object?> s)
            {
                throw new InvalidDataException($"Optimizer state entry {e.Key} does not match any parameter (this model has {Flat.Length}).");
            }
            var p = Flat[i].Param;
            if (s.GetValueOrDefault("exp_avg") is not Tensor m || s.GetValueOrDefault("exp_avg_sq") is not Tensor v)
            {
                throw new InvalidDataException($"Optimizer state {i} is not AdamW's: 'exp_avg' and 'exp_avg_sq' must be tensors; resume with the --opt the checkpoint was written with.");
            }
            if (!m.shape.SequenceEqual(p.shape) || !v.shape.SequenceEqual(p.shape))
            {
                throw new InvalidDataException($"Optimizer state {i} has shape [{string.Join(", ", m.shape)}] but the parameter has [{string.Join(", ", p.shape)}].");
            }
            _expAvg[i]?.Dispose();
            _expAvgSq[i]?.Dispose();
            _expAvg[i] = m.to_type(p.dtype).clone().DetachFromDisposeScope();
            _expAvgSq[i] = v.to_type(p.dtype).clone().DetachFromDisposeScope();
            _step[i] = s["step"] switch
            {
                Tensor t => (long)t.ToDouble(),
                var o => System.Convert.ToInt64(o, System.Globalization.CultureInfo.InvariantCulture),
            };
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq))
        {
            t?.Dispose();
        }
    }
}
