using TorchSharp.Modules;
using VkD.Distillation.Projectors;
using static TorchSharp.torch;

namespace VkD.Distillation.Distiller;

/// <summary>The named terms of one step. Owns its tensors: dispose it (or its scope) after logging.</summary>
public sealed class LossTerms : IDisposable
{
    private readonly List<(string Name, Tensor Value)> _terms;

    /// <summary>Wraps <paramref name="terms"/> (weighted values, in order) and their sum <paramref name="total"/>.</summary>
    public LossTerms(IReadOnlyList<(string Name, Tensor Value)> terms, Tensor total)
    {
        _terms = [.. terms];
        Total = total;
    }

    /// <summary>The sum of the weighted terms, to call backward on.</summary>
    public Tensor Total { get; }

    /// <summary>The weighted terms, in the distiller's order. A task may also carry a logged statistic here that is
    /// not part of <see cref="Total"/> and has no gradient (detection's <c>class_error</c>): the loop logs every entry
    /// by name, and only <see cref="Total"/> is backpropagated.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> Terms => _terms;

    /// <summary>The weighted term <paramref name="name"/>.</summary>
    public Tensor this[string name] => _terms.FirstOrDefault(t => t.Name == name).Value
        ?? throw new KeyNotFoundException($"No loss term '{name}'; the terms are [{string.Join(", ", _terms.Select(t => t.Name))}].");

    /// <summary>The terms and <c>total</c> as doubles (one device sync per term).</summary>
    public IReadOnlyDictionary<string, double> ToDoubles()
    {
        var d = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, value) in _terms)
        {
            d[name] = value.to_type(ScalarType.Float64).item<double>();
        }
        d["total"] = Total.to_type(ScalarType.Float64).item<double>();
        return d;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Total.Dispose();
        foreach (var (_, v) in _terms)
        {
            v.Dispose();
        }
    }
}

/// <summary>
/// The one feature distiller: an ordered list of named <see cref="ILossTerm"/>s (feature pairs with their projectors,
/// logit terms, method terms) whose weighted sum is a step's loss. Projectors are registered as submodules under their
/// pair's <see cref="FeaturePairTerm.ProjectorName"/>, once per instance, so a projector shared by several pairs (the
/// GAN's real and fake features) is one set of parameters, and the classification distiller's keys read
/// <c>projector.parametrizations.weight.original</c> as the reference's <c>student.projector</c>. Terms that are modules
/// with parameters of their own (a contrastive head) are registered under their term name.
/// </summary>
public class FeatureDistiller : nn.Module
{
    private readonly List<ILossTerm> _terms = [];
    private readonly List<string> _names = [];
    private readonly Dictionary<string, ProjectorModule> _projectors = new(StringComparer.Ordinal);

    /// <summary>Components are registered explicitly under their PyTorch names: TorchSharp's reflection-based
    /// registration would add the C# field names as extra state-dict keys.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates a distiller with <paramref name="terms"/>.</summary>
    public FeatureDistiller(IEnumerable<ILossTerm> terms, string name = "FeatureDistiller") : base(name)
    {
        ArgumentNullException.ThrowIfNull(terms);
        foreach (var t in terms)
        {
            Add(t);
        }
    }

    /// <summary>The terms, in the order they are computed, summed and logged.</summary>
    public IReadOnlyList<ILossTerm> Terms => _terms;

    /// <summary>Term names, the loss columns of a run's logs.</summary>
    public IReadOnlyList<string> TermNames => _names;

    /// <summary>The registered projectors by name.</summary>
    public IReadOnlyDictionary<string, ProjectorModule> Projectors => _projectors;

    /// <summary>True when some term with a non-zero weight reads the teacher.</summary>
    public bool NeedsTeacher => _terms.Any(t => t.NeedsTeacher && t.Weight > 0);

    /// <summary>Appends <paramref name="term"/>, registering its projector (or itself, if it is a module).</summary>
    /// <exception cref="ArgumentException">The name is taken, or two different projectors share a name.</exception>
    public void Add(ILossTerm term)
    {
        ArgumentNullException.ThrowIfNull(term);
        if (term.Name == "total" || _names.Contains(term.Name))
        {
            throw new ArgumentException($"Loss term name '{term.Name}' is {(term.Name == "total" ? "reserved" : "used twice")}; give every term its own name.", nameof(term));
        }
        if (term is FeaturePairTerm pair)
        {
            if (_projectors.TryGetValue(pair.ProjectorName, out var existing))
            {
                if (!ReferenceEquals(existing, pair.Projector))
                {
                    throw new ArgumentException(
                        $"Loss term '{pair.Name}' names projector '{pair.ProjectorName}', which another term registered with a different module; " +
                        "pass the same instance to share it, or another name.", nameof(term));
                }
            }
            else
            {
                if (_projectors.Values.Any(p => ReferenceEquals(p, pair.Projector)))
                {
                    throw new ArgumentException($"Loss term '{pair.Name}' registers an already registered projector under a second name '{pair.ProjectorName}'.", nameof(term));
                }
                _projectors[pair.ProjectorName] = pair.Projector;
                register_module(pair.ProjectorName, pair.Projector);
            }
        }
        else if (term is nn.Module module)
        {
            register_module(term.Name, module);
        }
        _terms.Add(term);
        _names.Add(term.Name);
    }

    /// <summary>Parameters to keep out of weight decay: those of every projector that asks for it (orthogonal maps).</summary>
    public IReadOnlySet<Parameter> WeightDecayExempt()
    {
        var set = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var p in _projectors.Values.Where(p => p.ExemptFromWeightDecay).SelectMany(p => p.parameters()))
        {
            set.Add(p);
        }
        return set;
    }

    /// <summary>
    /// Computes every term, weights it and sums them in order (<c>((t0 + t1) + t2) ...</c>). A term of weight 0 is
    /// not computed and logs 0, as the reference skips its KD and feature terms at alpha = gamma = 0.
    /// </summary>
    public LossTerms Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (_terms.Count == 0)
        {
            throw new InvalidOperationException("The distiller has no loss terms.");
        }
        using var scope = NewDisposeScope();
        var values = new List<(string, Tensor)>(_terms.Count);
        Tensor? total = null;
        ScalarType? dtype = null;
        Device? device = null;
        foreach (var term in _terms)
        {
            Tensor value;
            if (term.Weight == 0)
            {
                var like = inputs.Student.Names.Select(inputs.Student.Find).FirstOrDefault(t => t is not null && t.is_floating_point());
                value = zeros(Array.Empty<long>(), dtype ?? like?.dtype ?? ScalarType.Float32, device ?? like?.device);
            }
            else
            {
                var raw = term.Compute(inputs);
                // Multiplying by 1 is exact, but skipping it keeps the autograd graph the size it was before weights.
                value = term.Weight == 1.0 ? raw : term.Weight * raw;
                dtype ??= value.dtype;
                device ??= value.device;
            }
            values.Add((term.Name, value));
            total = total is null ? value : total + value;
        }
        var kept = values.Select(v => (v.Item1, v.Item2.MoveToOuterDisposeScope())).ToList();
        // A single term is its own total: alias it through a view so disposing the total keeps the term alive.
        var sum = (kept.Count == 1 ? kept[0].Item2.alias() : total!).MoveToOuterDisposeScope();
        return new LossTerms(kept, sum);
    }
}
