using TorchSharp.Modules;

using static TorchSharp.torch;

namespace VkD.Training.Optim;

/// <summary>
/// What <see cref="AdamWOptimizer"/> and <see cref="MomentumSgd"/> share: parameter groups numbered 0.. in PyTorch's order, one
/// learning rate set by the schedule, gradients cleared to none, and the check that a saved state's groups fit.
/// </summary>
public abstract class ParameterGroupOptimizer : ITrainingOptimizer
{
    /// <summary>Creates the optimiser over <paramref name="groups"/>.</summary>
    protected ParameterGroupOptimizer(IReadOnlyList<ParameterGroup> groups, double lr)
    {
        ArgumentNullException.ThrowIfNull(groups);
        Groups = groups;
        LearningRate = lr;
        Flat = groups.SelectMany((g, gi) => g.Parameters.Select(p => (gi, p))).ToArray();
    }

    /// <summary>Parameter groups, in PyTorch's order (their parameters are numbered 0.. across groups).</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>Learning rate of the next step (set by the schedule every iteration).</summary>
    public double LearningRate { get; set; }

    /// <summary>All parameters in PyTorch's index order.</summary>
    public IReadOnlyList<Parameter> Parameters => Flat.Select(f => f.Param).ToArray();

    /// <summary>Each parameter with the index of its group, in PyTorch's order.</summary>
    protected (int Group, Parameter Param)[] Flat { get; }

    /// <summary>Clears every gradient (sets it to none, PyTorch's default).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in Flat)
        {
            p.grad?.Dispose();
            p.grad = null;
        }
    }

    /// <inheritdoc />
    public void Step()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        for (var i = 0; i < Flat.Length; i++)
        {
            var (gi, p) = Flat[i];
            if (p.grad is { } grad)
            {
                Update(i, p, grad, Groups[gi]);
            }
        }
    }

    /// <summary>The update rule for one parameter with a gradient: parameter <paramref name="index"/> of
    /// <see cref="Flat"/>, in its group; runs without autograd inside a dispose scope.</summary>
    protected abstract void Update(int index, Parameter parameter, Tensor grad, ParameterGroup group);

    /// <inheritdoc />
    public abstract Dictionary<string, object?> StateDict();

    /// <inheritdoc />
    public abstract void LoadStateDict(IReadOnlyDictionary<string, object?> dict);

    /// <inheritdoc />
    public abstract void Dispose();

    /// <summary>PyTorch's <c>state_dict()</c> layout: <paramref name="state"/> by parameter index, and one
    /// <c>param_groups</c> entry per group with <paramref name="hyper"/>'s settings and the group's parameter indices.</summary>
    protected Dictionary<string, object?> StateDictOf(Dictionary<long, object?> state, Func<ParameterGroup, Dictionary<string, object?>> hyper)
    {
        ArgumentNullException.ThrowIfNull(hyper);
        var groups = new List<object?>();
        var index = 0L;
        foreach (var g in Groups)
        {
            var entry = hyper(g);
            entry["params"] = Enumerable.Range(0, g.Parameters.Count).Select(_ => (object?)index++).ToList();
            groups.Add(entry);
        }
        return new Dictionary<string, object?> { ["state"] = state, ["param_groups"] = groups };
    }

    /// <summary>
    /// Checks that <paramref name="dict"/>'s <c>param_groups</c> have this optimiser's group sizes, takes its learning
    /// rate, and returns its first group (null when absent) for optimiser-specific checks.
    /// </summary>
    /// <exception cref="InvalidDataException">The groups differ: the state belongs to another model or options.</exception>
    protected IReadOnlyDictionary<string, object?>? LoadGroups(IReadOnlyDictionary<string, object?> dict)
    {
        ArgumentNullException.ThrowIfNull(dict);
        if (!dict.TryGetValue("param_groups", out var value) || value is null)
        {
            return null;
        }
        if (value is not System.Collections.IList groups)
        {
            throw new InvalidDataException($"Optimizer state's 'param_groups' must be a list of groups, got {value.GetType().Name}.");
        }
        var counts = groups.Cast<object?>().Select(g => g is IReadOnlyDictionary<string, object?> d && d.GetValueOrDefault("params") is System.Collections.IList ps ? ps.Count : -1).ToArray();
        var expected = Groups.Select(g => g.Parameters.Count).ToArray();
        if (!counts.SequenceEqual(expected))
        {
            throw new InvalidDataException($"Optimizer state has groups of sizes [{string.Join(", ", counts)}] but this model's groups have [{string.Join(", ", expected)}]; the checkpoint belongs to a different model or options.");
        }
        var first = groups.Count > 0 ? groups[0] as IReadOnlyDictionary<string, object?> : null;
        if (first?.GetValueOrDefault("lr") is double lr)
        {
            LearningRate = lr;
        }
        return first;
    }
}
