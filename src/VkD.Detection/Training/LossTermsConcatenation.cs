using VkD.Distillation.Distiller;

namespace VkD.Detection.Training;

/// <summary>Joins the named losses of several sources (the set criterion, the distiller) into the one
/// <see cref="LossTerms"/> a training step returns.</summary>
public static class LossTermsConcatenation
{
    /// <summary>
    /// One set with every term of <paramref name="parts"/> in order and, as total, the sum of their totals in order.
    /// The result takes over the parts' term tensors (their totals are released): use and dispose only the result.
    /// </summary>
    /// <exception cref="ArgumentException">No parts, or two parts share a term name.</exception>
    public static LossTerms Concat(params LossTerms[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length == 0)
        {
            throw new ArgumentException("Nothing to join: pass at least one set of loss terms.", nameof(parts));
        }
        var terms = parts.SelectMany(p => p.Terms).ToList();
        var duplicate = terms.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Loss term '{duplicate.Key}' comes from two sources; every term needs its own name.", nameof(parts));
        }
        var total = parts[0].Total.alias();
        for (var i = 1; i < parts.Length; i++)
        {
            var sum = total + parts[i].Total;
            total.Dispose();
            total = sum;
        }
        foreach (var p in parts.Where(p => !p.Terms.Any(t => ReferenceEquals(t.Value, p.Total))))
        {
            p.Total.Dispose();
        }
        return new LossTerms(terms, total);
    }
}
