using static TorchSharp.torch;

namespace VkD.Distillation.Distiller;

/// <summary>
/// Taps intermediate features by module path (<c>layer3</c>, <c>blocks.11.mlp</c>), as PyTorch forward hooks do, so a
/// method can distil any layer of any model without that model exposing it. Each tapped module's output of the most
/// recent forward pass is kept under its path (one handle per path, replaced by the next pass); <see cref="AddTo"/> copies them into a <see cref="FeatureSet"/>.
/// TorchSharp runs hooks from <c>call</c>, not from <c>forward</c>: a module is tapped when its parent invokes it with
/// <c>call</c> (Sequential, and the zoo's models, do).
/// </summary>
public sealed class ModuleTaps : IDisposable
{
    private readonly Dictionary<string, Tensor> _outputs = new(StringComparer.Ordinal);
    private readonly List<Action> _removers = [];
    private readonly HashSet<string> _ran = new(StringComparer.Ordinal);

    /// <summary>Hooks the modules of <paramref name="model"/> at <paramref name="paths"/>.</summary>
    /// <exception cref="ArgumentException">A path names no module, or a module that does not map a tensor to a tensor;
    /// the message lists the model's module paths.</exception>
    public ModuleTaps(nn.Module model, IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(paths);
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        foreach (var path in paths.Distinct(StringComparer.Ordinal))
        {
            if (!modules.TryGetValue(path, out var module))
            {
                var known = string.Join(", ", modules.Keys.Where(k => k.Length > 0 && k.Count(c => c == '.') < 2).Take(40));
                throw new ArgumentException($"No module '{path}' to tap in {model.GetName()}; its modules include: {known}.", nameof(paths));
            }
            if (module is not nn.Module<Tensor, Tensor> hookable)
            {
                throw new ArgumentException($"Module '{path}' ({module.GetType().Name}) does not map a tensor to a tensor, so it cannot be tapped.", nameof(paths));
            }
            var name = path;
            var remover = hookable.register_forward_hook((_, _, output) =>
            {
                // Models dispose their intermediate outputs (Sequential, and the inner dispose scopes of the zoo's
                // forwards), so the tap keeps its own handle to the same storage, outside every scope, until the
                // next forward pass replaces it.
                var kept = output.alias().DetachFromDisposeScope();
                if (_outputs.TryGetValue(name, out var previous))
                {
                    previous.Dispose();
                }
                _outputs[name] = kept;
                _ran.Add(name);
                return output;
            });
            _removers.Add(remover.remove);
        }
        Paths = [.. paths.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>The tapped paths.</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>The output of <paramref name="path"/> in the last forward pass.</summary>
    /// <exception cref="InvalidOperationException">The module did not run (its parent called <c>forward</c> directly).</exception>
    public Tensor this[string path] => _ran.Contains(path) && _outputs.TryGetValue(path, out var t)
        ? t
        : throw new InvalidOperationException(
            $"Tapped module '{path}' produced no output in the last forward pass: it did not run, or its parent called its forward() directly instead of call().");

    /// <summary>Adds every tapped output of the last forward pass to <paramref name="features"/> under its path. The
    /// tensors stay valid until the next forward pass (or <see cref="Dispose"/>); a second call before another
    /// forward pass throws, so stale features are never used.</summary>
    public FeatureSet AddTo(FeatureSet features)
    {
        ArgumentNullException.ThrowIfNull(features);
        foreach (var path in Paths)
        {
            features.Add(path, this[path]);
        }
        _ran.Clear();
        return features;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var remove in _removers)
        {
            remove();
        }
        _removers.Clear();
        foreach (var t in _outputs.Values)
        {
            t.Dispose();
        }
        _outputs.Clear();
        _ran.Clear();
    }
}
