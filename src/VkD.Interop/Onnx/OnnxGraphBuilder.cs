using Google.Protobuf;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Interop.Onnx;

/// <summary>
/// Builds one ONNX graph (protobuf classes of OnnxSharp, serialised by Google.Protobuf): inputs, initializers from
/// TorchSharp tensors, nodes with attributes, and outputs. Node and tensor names are made unique so emitters can use
/// the module path as a readable prefix.
/// </summary>
public sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);

    /// <summary>Starts an empty graph.</summary>
    /// <param name="graphName">Name stored in the graph (the model name).</param>
    /// <param name="opset">Default-domain opset the nodes are written for (17 or newer).</param>
    public OnnxGraphBuilder(string graphName, int opset)
    {
        if (opset < MinOpset || opset > MaxOpset)
        {
            throw new ArgumentOutOfRangeException(nameof(opset), opset, $"Supported ONNX opsets are {MinOpset}..{MaxOpset}.");
        }
        Opset = opset;
        _graph = new GraphProto { Name = graphName };
    }

    /// <summary>Oldest opset the emitters write (LayerNormalization needs 17).</summary>
    public const int MinOpset = 17;

    /// <summary>Newest opset the emitters write (ONNX Runtime 1.31 runs it).</summary>
    public const int MaxOpset = 21;

    /// <summary>Default-domain opset of the graph.</summary>
    public int Opset { get; }

    /// <summary>Number of nodes so far.</summary>
    public int NodeCount => _graph.Node.Count;

    /// <summary>Adds a float32 graph input; a null dimension is symbolic (named <paramref name="symbolicNames"/>[i]).</summary>
    public string AddInput(string name, long?[] dims, string[]? symbolicNames = null)
    {
        _graph.Input.Add(ValueInfo(Claim(name), dims, symbolicNames));
        return name;
    }

    /// <summary>Declares <paramref name="name"/> (an existing value) a float32 graph output.</summary>
    public void AddOutput(string name, long?[] dims, string[]? symbolicNames = null) =>
        _graph.Output.Add(ValueInfo(name, dims, symbolicNames));

    /// <summary>Declares <paramref name="name"/> a float32 graph output of unknown shape.</summary>
    public void AddOutputUnshaped(string name) => _graph.Output.Add(new ValueInfoProto
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
    });

    /// <summary>Adds a tensor (float32, float64 as float32, or int64) as an initializer; returns its unique name.</summary>
    public string AddInitializer(string name, Tensor value)
    {
        var unique = Unique(name);
        _graph.Initializer.Add(ToTensorProto(unique, value));
        return unique;
    }

    /// <summary>An int64 vector constant (shapes, axes), shared between nodes that need the same values.</summary>
    public string Int64Constant(params long[] values)
    {
        var key = "i64:" + string.Join(",", values);
        if (!_constants.TryGetValue(key, out var name))
        {
            var t = new TensorProto { Name = name = Unique("const_i64"), DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.Add(values.Length);
            t.Int64Data.Add(values);
            _graph.Initializer.Add(t);
            _constants[key] = name;
        }
        return name;
    }

    /// <summary>An int64 scalar (0-d) constant, e.g. a Gather index that drops the gathered axis.</summary>
    public string Int64Scalar(long value)
    {
        var key = "i64s:" + value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!_constants.TryGetValue(key, out var name))
        {
            var t = new TensorProto { Name = name = Unique("const_i64s"), DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Int64Data.Add(value);
            _graph.Initializer.Add(t);
            _constants[key] = name;
        }
        return name;
    }

    /// <summary>ReduceMean over <paramref name="axes"/>: axes are an attribute up to opset 17 and an input from 18.</summary>
    public string ReduceMean(string x, string name, long[] axes, bool keepDims) => Opset >= 18
        ? Node("ReduceMean", name, [x, Int64Constant(axes)], Int("keepdims", keepDims ? 1 : 0))
        : Node("ReduceMean", name, [x], Ints("axes", axes), Int("keepdims", keepDims ? 1 : 0));

    /// <summary>A float32 scalar constant, shared between nodes.</summary>
    public string FloatConstant(float value)
    {
        var key = "f32:" + value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (!_constants.TryGetValue(key, out var name))
        {
            var t = new TensorProto { Name = name = Unique("const_f32"), DataType = (int)TensorProto.Types.DataType.Float };
            t.FloatData.Add(value);
            _graph.Initializer.Add(t);
            _constants[key] = name;
        }
        return name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    /// <param name="opType">ONNX operator (default domain).</param>
    /// <param name="name">Readable prefix (usually the module path) for the node and its output.</param>
    /// <param name="inputs">Input value names; an empty string marks an omitted optional input.</param>
    /// <param name="attributes">Attributes built with <see cref="Ints"/>, <see cref="Int"/>, <see cref="Float"/>, <see cref="Str"/>.</param>
    public string Node(string opType, string name, string[] inputs, params AttributeProto[] attributes)
    {
        var output = Unique(string.IsNullOrEmpty(name) ? opType : name);
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.Add(inputs);
        node.Output.Add(output);
        node.Attribute.Add(attributes);
        _graph.Node.Add(node);
        return output;
    }

    /// <summary>An integer-list attribute.</summary>
    public static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    /// <summary>An integer attribute.</summary>
    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto Str(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>The finished model (IR version 8, default-domain opset <see cref="Opset"/>).</summary>
    public ModelProto Build(string producer = "VkD.NET", IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = producer,
            ProducerVersion = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString(3) ?? "0",
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in (metadata ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return model;
    }

    /// <summary>Writes the model to <paramref name="path"/> (protobuf binary), with <paramref name="metadata"/> as its
    /// <c>metadata_props</c>.</summary>
    public void Save(string path, string producer = "VkD.NET", IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = Build(producer, metadata);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        using var stream = File.Create(path);
        model.WriteTo(stream);
    }

    private string Claim(string name)
    {
        if (!_names.Add(name))
        {
            throw new InvalidOperationException($"ONNX graph value name '{name}' is used twice.");
        }
        return name;
    }

    private string Unique(string name)
    {
        var candidate = name;
        for (var i = 1; !_names.Add(candidate); i++)
        {
            candidate = $"{name}_{i}";
        }
        return candidate;
    }

    private static ValueInfoProto ValueInfo(string name, long?[] dims, string[]? symbolicNames)
    {
        var shape = new TensorShapeProto();
        for (var i = 0; i < dims.Length; i++)
        {
            shape.Dim.Add(dims[i] is { } d
                ? new TensorShapeProto.Types.Dimension { DimValue = d }
                : new TensorShapeProto.Types.Dimension { DimParam = symbolicNames?[i] ?? $"d{i}" });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }

    private static TensorProto ToTensorProto(string name, Tensor value)
    {
        using var scope = NewDisposeScope();
        var cpu = value.detach().cpu().contiguous();
        var t = new TensorProto { Name = name };
        t.Dims.Add(cpu.shape);
        switch (cpu.dtype)
        {
            case ScalarType.Float32:
            case ScalarType.Float64:
                t.DataType = (int)TensorProto.Types.DataType.Float;
                // Straight from the tensor's native bytes: a float[] in between doubled the managed memory of the
                // export (320 MB more for RegNetY-160), which the GC keeps long after.
                var f32 = cpu.dtype == ScalarType.Float32 ? cpu : cpu.to(ScalarType.Float32);
                t.RawData = ByteString.CopyFrom(f32.bytes);
                break;
            case ScalarType.Int64:
                t.DataType = (int)TensorProto.Types.DataType.Int64;
                t.Int64Data.Add(cpu.data<long>().ToArray());
                break;
            default:
                throw new NotSupportedException($"Initializer '{name}' has dtype {cpu.dtype}; the exporter writes float32 and int64.");
        }
        return t;
    }
}
