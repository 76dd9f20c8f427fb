using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Training.Optim;

/// <summary>
/// SGD with momentum, PyTorch's exact single-tensor update (<c>torch.optim.SGD</c>, dampening 0): coupled decay
/// <c>d = g + wd·p</c>, buffer <c>b ← d</c> on the first step and <c>b ← μ b + d</c> after, then <c>d ← d + μ b</c>
/// (Nesterov) or <c>d ← b</c>, and <c>p ← p − lr·d</c>. timm's <c>--opt sgd</c> is Nesterov with μ = 0.9 and
/// <c>--opt momentum</c> the plain form. Its state (one momentum buffer per parameter) is saved in PyTorch's layout.
/// </summary>
public sealed class MomentumSgd : ParameterGroupOptimizer
{
    private readonly Tensor?[] _buffers;

    /// <summary>Creates the optimiser over <paramref name="groups"/>.</summary>
    public MomentumSgd(IReadOnlyList<ParameterGroup> groups, double lr, double momentum = 0.9, bool nesterov = true)
        : base(groups, lr)
    {
        if (!(momentum >= 0) || double.IsInfinity(momentum) || (nesterov && momentum == 0))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "--momentum must be finite and >= 0 (and > 0 with Nesterov).");
        }
        Momentum = momentum;
        Nesterov = nesterov;
        _buffers = new Tensor?[Flat.Length];
    }

    /// <summary>Momentum μ.</summary>
    public double Momentum { get; }

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc />
    protected override void Update(int i, Parameter p, Tensor grad, ParameterGroup group)
    {
        var d = group.WeightDecay != 0 ? grad.add(p, group.WeightDecay) : grad;
        if (Momentum != 0)
        {
            if (_buffers[i] is null)
            {
                _buffers[i] = d.clone().detach().DetachFromDisposeScope();
            }
            else
            {
                _buffers[i]!.mul_(Momentum).add_(d);
            }
            d = Nesterov ? d.add(_buffers[i]!, Momentum) : _buffers[i]!;
        }
        p.add_(d, -LearningRate);
    }

    /// <inheritdoc />
    public override Dictionary<string, object?> StateDict()
    {
        var state = new Dictionary<long, object?>();
        for (var i = 0; i < Flat.Length; i++)
        {
            if (_buffers[i] is not null)
            {
                state[i] = new Dictionary<string, object?> { ["momentum_buffer"] = _buffers[i]!.clone() };
            }
        }
        return StateDictOf(state, g => new Dictionary<string, object?>
        {
            ["lr"] = LearningRate,
            ["momentum"] = Momentum,
            ["dampening"] = 0.0,
            ["weight_decay"] = g.WeightDecay,
            ["nesterov"] = Nesterov,
            ["maximize"] = false,
        });
    }

    /// <inheritdoc />
    public override void LoadStateDict(IReadOnlyDictionary<string, object?> dict)
    {
        var first = LoadGroups(dict);
        if (first is not null && !first.ContainsKey("momentum"))
        {
            throw new InvalidDataException("Optimizer state is not SGD's (no 'momentum' in its groups); resume with the --opt the checkpoint was written with.");
        }
        if (dict.GetValueOrDefault("state") is not System.Collections.IDictionary state)
        {
            throw new InvalidDataException("Optimizer state has no 'state' mapping.");
        }
        using var _ = no_grad();
        foreach (System.Collections.DictionaryEntry e in state)
        {
            var i = (int)Convert.ToInt64(e.Key, CultureInfo.InvariantCulture);
            if (i < 0 || i >= Flat.Length || e.Value is not IReadOnlyDictionary<string, object?> s || s.GetValueOrDefault("momentum_buffer") is not Tensor b)
            {
                throw new InvalidDataException($"Optimizer state entry {e.Key} is not an SGD momentum buffer of this model ({Flat.Length} parameters).");
            }
            var p = Flat[i].Param;
            if (!b.shape.SequenceEqual(p.shape))
            {
                throw new InvalidDataException($"Optimizer state {i} has shape [{string.Join(", ", b.shape)}] but the parameter has [{string.Join(", ", p.shape)}].");
            }
            _buffers[i]?.Dispose();
            _buffers[i] = b.to_type(p.dtype).clone().DetachFromDisposeScope();
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        foreach (var t in _buffers)
        {
            t?.Dispose();
        }
    }
}
