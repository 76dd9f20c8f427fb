using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Interop.Onnx;

/// <summary>Writes one module applied to <paramref name="input"/> into the graph and returns the output's name, or
/// returns null when it does not handle that module type (the next emitter is tried).</summary>
/// <param name="context">The export in progress (graph and the other emitters, for recursion).</param>
/// <param name="module">The module to write.</param>
/// <param name="input">Name of the value the module is applied to.</param>
/// <param name="path">Module path (state-dict prefix), used to name nodes and initializers.</param>
public delegate string? OnnxModuleEmitter(OnnxExportContext context, nn.Module module, string input, string path);

/// <summary>
/// An export in progress: the graph being built and the emitters that turn modules into nodes. Architecture exporters
/// register emitters for their own block types; everything else falls through to <see cref="OnnxLayerEmitters"/>, which
/// knows TorchSharp's layers.
/// </summary>
public sealed class OnnxExportContext
{
    private readonly List<OnnxModuleEmitter> _emitters = [];

    /// <summary>Starts an export into <paramref name="graph"/>.</summary>
    public OnnxExportContext(OnnxGraphBuilder graph) => Graph = graph;

    /// <summary>The graph being built.</summary>
    public OnnxGraphBuilder Graph { get; }

    /// <summary>Adds an emitter tried before the built-in layers (later registrations are tried first).</summary>
    public OnnxExportContext Register(OnnxModuleEmitter emitter)
    {
        _emitters.Insert(0, emitter);
        return this;
    }

    /// <summary>Writes <paramref name="module"/> applied to <paramref name="input"/>; returns the output's name.</summary>
    /// <exception cref="NotSupportedException">No emitter knows the module's type (the message names type and path).</exception>
    public string Emit(nn.Module module, string input, string path)
    {
        foreach (var emitter in _emitters)
        {
            if (emitter(this, module, input, path) is { } output)
            {
                return output;
            }
        }
        return OnnxLayerEmitters.TryEmit(this, module, input, path)
            ?? throw new NotSupportedException($"ONNX export: no emitter for module '{path}' of type {module.GetType().FullName}. "
                + "Supported layers are listed in docs/onnx.md.");
    }

    /// <summary>Writes a named child of <paramref name="parent"/>; the child path is <c>path.childName</c>.</summary>
    public string EmitChild(nn.Module parent, string childName, string input, string path)
    {
        var child = parent.named_children().FirstOrDefault(c => c.name == childName).module
            ?? throw new InvalidOperationException($"ONNX export: module '{path}' has no child '{childName}'.");
        return Emit(child, input, Join(path, childName));
    }

    /// <summary>Adds a parameter or buffer as an initializer named by its state-dict key.</summary>
    public string Weight(Tensor value, string path, string name) => Graph.AddInitializer(Join(path, name), value);

    /// <summary>Joins module path segments with dots (state-dict style).</summary>
    public static string Join(string path, string name) => string.IsNullOrEmpty(path) ? name : path + "." + name;
}
