using TorchSharp.Modules;

namespace VkD.Training.Optim;

/// <summary>
/// Splits parameters into AdamW's decay / no-decay groups the way timm and the reference's <c>set_weight_decay</c>
/// do: 1-D parameters (norm scales, biases), any name ending in <c>.bias</c>, and the transformer tokens/embeddings
/// timm lists in <c>no_weight_decay()</c> (<c>pos_embed</c>, <c>cls_token</c>, <c>dist_token</c>) get no decay.
/// Parameters the caller marks as exempt (the orthogonal projector, unless compatibility mode puts it back) go to
/// the no-decay group too.
/// </summary>
public static class WeightDecayGroups
{
    /// <summary>Names (last component) timm's ViT/DeiT exclude from weight decay.</summary>
    public static readonly IReadOnlySet<string> NoDecayNames = new HashSet<string>(StringComparer.Ordinal) { "pos_embed", "cls_token", "dist_token" };

    /// <summary>True when timm's rules exempt <paramref name="name"/> (a parameter of rank <paramref name="rank"/>).</summary>
    public static bool IsNoDecay(string name, long rank)
    {
        var last = name[(name.LastIndexOf('.') + 1)..];
        return rank <= 1 || name.EndsWith(".bias", StringComparison.Ordinal) || NoDecayNames.Contains(last);
    }

    /// <summary>Builds [decay, no_decay] groups. Parameters that do not require grad are skipped (frozen).</summary>
    /// <param name="named">Named trainable parameters (student first, then loss-module parameters).</param>
    /// <param name="weightDecay">Decay of the first group.</param>
    /// <param name="exempt">Parameters forced into the no-decay group regardless of their shape.</param>
    public static IReadOnlyList<ParameterGroup> Build(IEnumerable<(string Name, Parameter Param)> named, double weightDecay, IReadOnlySet<Parameter>? exempt = null)
    {
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in named)
        {
            if (!p.requires_grad || !seen.Add(p))
            {
                continue;
            }
            if (IsNoDecay(name, p.dim()) || (exempt is not null && exempt.Contains(p)))
            {
                noDecay.Add((name, p));
            }
            else
            {
                decay.Add((name, p));
            }
        }
        return
        [
            new ParameterGroup("decay", decay.Select(x => x.Item2).ToArray(), decay.Select(x => x.Item1).ToArray(), weightDecay),
            new ParameterGroup("no_decay", noDecay.Select(x => x.Item2).ToArray(), noDecay.Select(x => x.Item1).ToArray(), 0.0),
        ];
    }
}
