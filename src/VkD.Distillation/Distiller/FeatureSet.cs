using static TorchSharp.torch;

namespace VkD.Distillation.Distiller;

/// <summary>Names of the features every zoo model and teacher provides, so terms can refer to them without plumbing.</summary>
public static class FeatureNames
{
    /// <summary>Class-head logits [B, C].</summary>
    public const string Logits = "logits";

    /// <summary>Distillation-head logits [B, C] (DeiT's dist token); absent for single-head models.</summary>
    public const string DistillationLogits = "dist_logits";

    /// <summary>Pooled pre-logit features [B, D], the classification pair of the reference.</summary>
    public const string Pooled = "features";
}

/// <summary>
/// Named tensors one side (student or teacher) produced for one batch: a model's <c>ForwardForDistillation</c>
/// outputs, hooked module outputs (<see cref="ModuleTaps"/>), or a task's own (a detector's patch levels). The set
/// does not own its tensors; the step's dispose scope does.
/// </summary>
public sealed class FeatureSet
{
    private readonly Dictionary<string, Tensor> _features = new(StringComparer.Ordinal);

    /// <summary>Creates an empty set labelled <paramref name="side"/> ("student" or "teacher") for error messages.</summary>
    public FeatureSet(string side)
    {
        Side = side;
    }

    /// <summary>"student" or "teacher".</summary>
    public string Side { get; }

    /// <summary>Names present, in insertion order of the underlying dictionary.</summary>
    public IEnumerable<string> Names => _features.Keys;

    /// <summary>Adds (or replaces) <paramref name="name"/>; a null tensor is skipped, so optional outputs stay absent.</summary>
    public FeatureSet Add(string name, Tensor? value)
    {
        if (value is not null)
        {
            _features[name] = value;
        }
        return this;
    }

    /// <summary>Adds every entry of <paramref name="features"/>.</summary>
    public FeatureSet AddRange(IEnumerable<KeyValuePair<string, Tensor>> features)
    {
        foreach (var (k, v) in features)
        {
            _features[k] = v;
        }
        return this;
    }

    /// <summary>True when <paramref name="name"/> is present.</summary>
    public bool Contains(string name) => _features.ContainsKey(name);

    /// <summary>The feature <paramref name="name"/>, or null.</summary>
    public Tensor? Find(string name) => _features.GetValueOrDefault(name);

    /// <summary>The feature <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">It is absent; the message names the term and what the side has.</exception>
    public Tensor Require(string name, string term) => _features.TryGetValue(name, out var t)
        ? t
        : throw new ArgumentException(
            $"Loss term '{term}' needs the {Side} feature '{name}', but the {Side} gave [{string.Join(", ", _features.Keys)}].");
}

/// <summary>What the loss terms of one step read.</summary>
/// <param name="Student">The student's features (graph attached).</param>
/// <param name="Teacher">The teacher's features (no graph), or null when the step runs no teacher.</param>
/// <param name="Targets">int64 labels [B], float soft targets [B, C], or null for tasks without labels.</param>
public sealed record LossInputs(FeatureSet Student, FeatureSet? Teacher, Tensor? Targets)
{
    /// <summary>The teacher's features, or a clear error for a term that needs them.</summary>
    public FeatureSet RequireTeacher(string term) => Teacher ?? throw new ArgumentException(
        $"Loss term '{term}' needs the teacher, but this step ran none.");

    /// <summary>The targets, or a clear error for a term that needs them.</summary>
    public Tensor RequireTargets(string term) => Targets ?? throw new ArgumentException(
        $"Loss term '{term}' needs targets, but the batch has none.");
}
