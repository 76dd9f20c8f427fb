using TorchSharp.Modules;
using VkD.Detection.Models;
using VkD.Models.Swin;
using VkD.Training.Optim;
using static TorchSharp.torch;

namespace VkD.Detection.Training;

/// <summary>
/// ViDT's AdamW parameter groups (naver-ai/vidt <c>main.py</c>, <c>build_optimizer</c>), in its order:
/// <list type="number">
/// <item><c>head</c>: every trainable parameter whose name does not contain <c>backbone</c>, with the default weight
/// decay, 1-D parameters and biases included (ViDT exempts nothing outside the backbone). VkD adds its projectors to
/// the model after it is built, so they come last in this group and are decayed too.</item>
/// <item><c>backbone_no_decay</c>: backbone parameters that are 1-D, end in <c>.bias</c>, or whose last name part is
/// in the backbone's <c>no_weight_decay()</c> (<see cref="SwinTransformerRam.NoWeightDecayKeys"/>: <c>det_token</c>,
/// <c>det_pos_embed</c>); weight decay 0.</item>
/// <item><c>backbone_decay</c>: the other backbone parameters, default decay.</item>
/// </list>
/// Every group runs at the one learning rate (<c>--lr</c>; ViDT's <c>--lr_backbone</c> is unused).
/// </summary>
public static class VidtParameterGroups
{
    /// <summary>Group names, in ViDT's order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["head", "backbone_no_decay", "backbone_decay"];

    /// <summary>The three groups for <paramref name="detector"/> and the modules VkD adds to it (the distiller's
    /// projectors), skipping frozen parameters and any parameter seen twice.</summary>
    /// <param name="detector">The trained detector.</param>
    /// <param name="weightDecay">ViDT's <c>--weight_decay</c> (1e-4).</param>
    /// <param name="added">Modules whose parameters join the model after it is built (their names never contain
    /// <c>backbone</c>, so they join the head group).</param>
    public static IReadOnlyList<ParameterGroup> Build(VidtDetector detector, double weightDecay, params nn.Module?[] added)
    {
        ArgumentNullException.ThrowIfNull(detector);
        ArgumentNullException.ThrowIfNull(added);
        var named = detector.named_parameters().Select(p => (p.name, p.parameter))
            .Concat(added.OfType<nn.Module>().SelectMany(m => m.named_parameters().Select(p => (p.name, p.parameter))));
        return Build(named, weightDecay);
    }

    /// <summary>The three groups for named parameters in model order (ViDT's rule on the names).</summary>
    public static IReadOnlyList<ParameterGroup> Build(IEnumerable<(string Name, Parameter Param)> named, double weightDecay)
    {
        ArgumentNullException.ThrowIfNull(named);
        var head = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        var decay = new List<(string, Parameter)>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in named)
        {
            if (!p.requires_grad || !seen.Add(p))
            {
                continue;
            }
            if (!name.Contains("backbone", StringComparison.Ordinal))
            {
                head.Add((name, p));
            }
            else if (IsBackboneNoDecay(name, p.dim()))
            {
                noDecay.Add((name, p));
            }
            else
            {
                decay.Add((name, p));
            }
        }
        static ParameterGroup Group(string name, List<(string Name, Parameter Param)> list, double wd) =>
            new(name, [.. list.Select(x => x.Param)], [.. list.Select(x => x.Name)], wd);
        return [Group(Names[0], head, weightDecay), Group(Names[1], noDecay, 0.0), Group(Names[2], decay, weightDecay)];
    }

    /// <summary>ViDT's test for a backbone parameter without decay: 1-D, a bias, or a <c>no_weight_decay()</c> name.</summary>
    public static bool IsBackboneNoDecay(string name, long rank)
    {
        ArgumentNullException.ThrowIfNull(name);
        var last = name[(name.LastIndexOf('.') + 1)..];
        return rank == 1 || name.EndsWith(".bias", StringComparison.Ordinal) || SwinTransformerRam.NoWeightDecayKeys.Contains(last);
    }
}
