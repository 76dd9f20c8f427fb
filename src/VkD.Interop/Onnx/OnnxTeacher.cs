using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using VkD.Distillation.Teachers;
using VkD.Models;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace VkD.Interop.Onnx;

/// <summary>
/// A frozen teacher that runs an ONNX model with ONNX Runtime on the CPU: any ONNX classifier or backbone (exported
/// from PyTorch, TensorFlow, CNTK or by <see cref="OnnxExporter"/>) can teach a VkD student. Feature-only models
/// (no logits output) give <see cref="TeacherOutputs.Logits"/> = null: distil their features only (gamma = 0).
/// </summary>
/// <remarks>
/// Models with a dynamic batch dimension run each batch in one call, reading the batch in place. Models whose batch is
/// fixed at 1 run image by image over buffers allocated once at <see cref="Open"/>, optionally on several sessions side by
/// side (<see cref="OnnxTeacherOptions.ParallelSessions"/>).
/// </remarks>
public sealed class OnnxTeacher : ITeacher
{
    private readonly OnnxTeacherOptions _options;
    private readonly Stage[] _stages;
    private readonly string[] _outputNames;
    private readonly int _spatialSize;
    private readonly int _modelBatch;
    private readonly long[][] _perImageOutputShapes;
    private readonly ImageWorker[] _workers;
    private bool _disposed;
    private string? _ownedFile;

    private OnnxTeacher(string path, OnnxTeacherOptions options, Stage[] stages, string featureOutput, string? logitsOutput)
    {
        ModelPath = path;
        _options = options;
        _stages = stages;
        FeatureOutput = featureOutput;
        LogitsOutput = logitsOutput;
        _outputNames = logitsOutput is null ? [featureOutput] : [featureOutput, logitsOutput];

        var first = stages[0];
        InputName = first.Pre?.InputName ?? first.Main.InputName;
        var inputMeta = (first.Pre?.Session ?? first.Main.Session).InputMetadata[InputName];
        InputShape = inputMeta.Dimensions;
        _modelBatch = stages.Select(s => s.ModelBatch).Where(b => b > 0).DefaultIfEmpty(-1).Min();
        _spatialSize = ResolveSpatialSize(path, InputName, inputMeta, options);

        // Shapes per image (batch 1) from the metadata, or from one probe run when the model leaves them symbolic.
        var metaShapes = _outputNames.Select(n => first.Main.Session.OutputMetadata[n].Dimensions).ToArray();
        _perImageOutputShapes = metaShapes.All(d => d.Skip(1).All(x => x > 0))
            ? metaShapes.Select(d => d.Select((x, i) => i == 0 ? 1L : x).ToArray()).ToArray()
            : ProbeOutputShapes(first);

        FeatureDim = checked((int)FeatureWidth(_perImageOutputShapes[0], options.FeaturePooling, featureOutput));
        NumClasses = logitsOutput is null ? 0 : checked((int)_perImageOutputShapes[1][^1]);
        if (logitsOutput is not null && _perImageOutputShapes[1].Length != 2)
        {
            throw new InvalidDataException($"Logits output '{logitsOutput}' of ONNX model '{path}' has shape "
                + $"{OnnxModelDescription.Shape(_perImageOutputShapes[1])} per image; logits must be [B, num_classes].");
        }

        _workers = _modelBatch == 1
            ? stages.Select(s => new ImageWorker(s, _spatialSize, _outputNames, _perImageOutputShapes)).ToArray()
            : [];
    }

    /// <summary>Path of the ONNX model file.</summary>
    public string ModelPath { get; }

    /// <summary>Name of the image input that is fed (the preprocessor's input if there is one).</summary>
    public string InputName { get; }

    /// <summary>Declared shape of that input; -1 marks a dynamic dimension.</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>Name of the output read as features.</summary>
    public string FeatureOutput { get; }

    /// <summary>Name of the output read as logits, or null for a feature-only teacher.</summary>
    public string? LogitsOutput { get; }

    /// <summary>Spatial size the batch is resized to before the model, or 0 when the batch goes in at its own size.</summary>
    public int InputSize => _spatialSize;

    /// <summary>True when the model fixes its batch at 1 and images run one by one.</summary>
    public bool RunsPerImage => _modelBatch == 1;

    /// <inheritdoc />
    public int FeatureDim { get; }

    /// <inheritdoc />
    public int NumClasses { get; }

    /// <summary>Loads an ONNX model as a teacher.</summary>
    /// <param name="path">The .onnx file.</param>
    /// <param name="options">Output names, input normalisation and threading; null for the defaults.</param>
    /// <exception cref="FileNotFoundException">The file (or the preprocessor's) does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, or its inputs/outputs do not fit a teacher
    /// (the message names them with their shapes and types).</exception>
    public static OnnxTeacher Open(string path, OnnxTeacherOptions? options = null)
    {
        options ??= new OnnxTeacherOptions();
        ValidateOptions(options);
        var sessionCount = Math.Max(1, options.ParallelSessions);
        var threads = options.IntraOpThreads > 0 ? options.IntraOpThreads
            : sessionCount > 1 ? Math.Max(1, Environment.ProcessorCount / sessionCount) : 0;

        var stages = new List<Stage>();
        try
        {
            // Only a batch-1 model benefits from several sessions; check that on the first one before making more.
            stages.Add(Stage.Create(path, options, threads));
            if (stages[0].ModelBatch == 1)
            {
                for (var i = 1; i < sessionCount; i++)
                {
                    stages.Add(Stage.Create(path, options, threads));
                }
            }
            var main = stages[0].Main.Session;
            var feature = ResolveOutput(path, main, options.FeatureOutput, "features", required: true, "feature")!;
            var logits = ResolveOutput(path, main, options.LogitsOutput, "logits", required: false, "logits");
            if (logits == feature)
            {
                throw new InvalidDataException($"ONNX model '{path}': the feature and logits outputs are both '{feature}'.");
            }
            return new OnnxTeacher(path, options, [.. stages], feature, logits);
        }
        catch
        {
            foreach (var s in stages)
            {
                s.Dispose();
            }
            throw;
        }
    }

    /// <summary>Runs a zoo model through ONNX Runtime as a teacher (what <c>--teacher-runtime onnx</c> does): exports it
    /// to a temporary file with <see cref="OnnxExporter"/>, opens that, and deletes the file when the teacher is disposed.</summary>
    /// <param name="model">The teacher with its trained weights.</param>
    /// <param name="inputSize">Image size the teacher runs at (ViTs: the size they were built for).</param>
    /// <param name="options">Threading options; output names and normalisation keep their defaults, which fit an export.</param>
    /// <param name="inChannels">Image channels the model takes (1 for grey-scale models such as the quickstart teacher).</param>
    /// <param name="disposeModel">Dispose <paramref name="model"/> once it is exported, before ONNX Runtime loads the
    /// file: its weights' memory is then reused for ONNX Runtime's copy instead of adding to it.</param>
    public static OnnxTeacher FromModel(ClassifierModel model, int inputSize, OnnxTeacherOptions? options = null, int inChannels = 3,
        bool disposeModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        var path = Path.Combine(Path.GetTempPath(), $"vkd-teacher-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Export(model, path, new OnnxExportOptions { InputSize = inputSize, InChannels = inChannels });
        }
        finally
        {
            if (disposeModel)
            {
                model.Dispose();
            }
        }
        // The export's protobuf (a copy of every weight) is garbage now; without a compacting collection the large
        // object heap keeps it resident for the whole run beside ONNX Runtime's own copy.
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        try
        {
            // The export takes exactly what the TorchSharp model takes: no normalisation change on the way in.
            options ??= new OnnxTeacherOptions();
            var teacher = Open(path, options with { ModelMean = options.BatchMean, ModelStd = options.BatchStd, PixelScale = 1f, Bgr = false });
            teacher._ownedFile = path;
            return teacher;
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <inheritdoc />
    public TeacherOutputs Forward(Tensor images)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var channels = InputShape.Count == 4 && InputShape[1] > 0 ? InputShape[1] : 3;
        if (images.dim() != 4 || images.shape[1] != channels)
        {
            throw new ArgumentException($"ONNX teacher '{ModelPath}' takes image batches [B, {channels}, H, W]; got "
                + $"{OnnxModelDescription.Shape(images.shape)}.", nameof(images));
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = Prepare(images);
        var batch = checked((int)x.shape[0]);
        CheckFixedDims(x.shape);

        var raw = _modelBatch == 1 ? RunPerImage(x, batch) : RunBatch(x);
        var features = Pool(raw[0]).to(images.device);
        var logits = LogitsOutput is null ? null : raw[1].to(images.device);
        features.MoveToOuterDisposeScope();
        logits?.MoveToOuterDisposeScope();
        return new TeacherOutputs(logits, features);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var w in _workers)
        {
            w.Dispose();
        }
        foreach (var s in _stages)
        {
            s.Dispose();
        }
        if (_ownedFile is not null)
        {
            File.Delete(_ownedFile);
        }
    }

    /// <summary>A readable summary of the model's inputs and outputs (names, types, shapes).</summary>
    public override string ToString() => $"ONNX teacher '{ModelPath}': {OnnxModelDescription.Describe(_stages[0].Main.Session)}";

    private static void ValidateOptions(OnnxTeacherOptions o)
    {
        foreach (var (name, list) in new[] { ("BatchMean", o.BatchMean), ("BatchStd", o.BatchStd), ("ModelMean", o.ModelMean), ("ModelStd", o.ModelStd) })
        {
            if (list.Count != 3)
            {
                throw new ArgumentException($"OnnxTeacherOptions.{name} needs 3 values (one per channel); got {list.Count}.");
            }
        }
        if (o.BatchStd.Concat(o.ModelStd).Any(s => s <= 0) || o.PixelScale <= 0)
        {
            throw new ArgumentException("OnnxTeacherOptions: std values and PixelScale must be positive.");
        }
        if (o.InputSize is <= 0)
        {
            throw new ArgumentException($"OnnxTeacherOptions.InputSize must be positive; got {o.InputSize}.");
        }
    }

    private static string? ResolveOutput(string path, InferenceSession session, string? requested, string conventional,
        bool required, string role)
    {
        var outputs = session.OutputMetadata;
        string? name;
        if (requested is not null)
        {
            if (!outputs.ContainsKey(requested))
            {
                throw new InvalidDataException($"ONNX model '{path}' has no output '{requested}' (asked for as the {role} "
                    + $"output); its outputs are: {OnnxModelDescription.Join(outputs)}.");
            }
            name = requested;
        }
        else if (outputs.ContainsKey(conventional))
        {
            name = conventional;
        }
        else if (required && outputs.Count == 1)
        {
            name = outputs.Keys.First();
        }
        else if (required)
        {
            throw new InvalidDataException($"ONNX model '{path}' has {outputs.Count} outputs and none is named "
                + $"'{conventional}'; name the {role} output (OnnxTeacherOptions.FeatureOutput, --teacher-feature-output). "
                + $"Outputs: {OnnxModelDescription.Join(outputs)}.");
        }
        else
        {
            return null;
        }
        var meta = outputs[name];
        if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
        {
            throw new InvalidDataException($"The {role} output of ONNX model '{path}' is "
                + $"{OnnxModelDescription.Format(name, meta)}; a teacher needs float32 tensors.");
        }
        return name;
    }

    private static int ResolveSpatialSize(string path, string inputName, NodeMetadata meta, OnnxTeacherOptions options)
    {
        var d = meta.Dimensions;
        if (d.Length == 4 && d[2] > 0 && d[3] > 0)
        {
            if (d[2] != d[3])
            {
                throw new InvalidDataException($"ONNX model '{path}' input {OnnxModelDescription.Format(inputName, meta)} "
                    + "is not square; VkD teachers take square images.");
            }
            if (options.InputSize is { } s && s != d[2])
            {
                throw new InvalidDataException($"ONNX model '{path}' input {OnnxModelDescription.Format(inputName, meta)} "
                    + $"fixes the image size at {d[2]}, but InputSize = {s} was declared.");
            }
            return d[2];
        }
        return options.InputSize ?? 0;
    }

    private static long FeatureWidth(long[] shape, OnnxFeaturePooling pooling, string name) => shape.Length switch
    {
        2 => shape[1],
        3 => shape[2],
        4 when pooling != OnnxFeaturePooling.FirstToken => shape[1],
        _ => throw new InvalidDataException($"Feature output '{name}' has shape {OnnxModelDescription.Shape(shape)} per "
            + $"image, which {pooling} pooling cannot turn into [B, C] (expected [B, C], [B, N, D] or [B, C, H, W])."),
    };

    private long[][] ProbeOutputShapes(Stage stage)
    {
        var size = _spatialSize > 0 ? _spatialSize : 224;
        using var worker = new ImageWorker(stage, size, _outputNames, null);
        return worker.ProbeShapes();
    }

    /// <summary>Undoes the batch normalisation, resizes, and applies the model's normalisation (see the options).</summary>
    private Tensor Prepare(Tensor images)
    {
        var o = _options;
        var x = images.to(CPU).to(ScalarType.Float32);
        var identity = o.PixelScale == 1f && !o.Bgr && o.BatchMean.SequenceEqual(o.ModelMean) && o.BatchStd.SequenceEqual(o.ModelStd);
        if (_spatialSize > 0 && (x.shape[2] != _spatialSize || x.shape[3] != _spatialSize))
        {
            x = nn.functional.interpolate(x, [_spatialSize, _spatialSize], mode: InterpolationMode.Bilinear, align_corners: false);
        }
        if (!identity)
        {
            if (x.shape[1] != 3)
            {
                // The mean/std/BGR conversion is defined per RGB channel; other channel counts must arrive normalised
                // the way the model expects.
                throw new ArgumentException($"ONNX teacher '{ModelPath}': normalisation conversion needs 3-channel images; "
                    + $"got {OnnxModelDescription.Shape(x.shape)}. Feed images normalised as the model expects.");
            }
            x = x * Channel(o.BatchStd) + Channel(o.BatchMean);
            x = x * o.PixelScale;
            if (o.Bgr)
            {
                x = x.flip(1);
            }
            x = (x - Channel(o.ModelMean)) / Channel(o.ModelStd);
        }
        return x.contiguous();
    }

    private static Tensor Channel(IReadOnlyList<float> v) => tensor(v.ToArray()).view(1, 3, 1, 1);

    private void CheckFixedDims(long[] shape)
    {
        var d = InputShape;
        var mismatch = d.Count != 4 || Enumerable.Range(1, 3).Any(i => d[i] > 0 && d[i] != shape[i])
            || (d[0] > 1 && d[0] != shape[0]);
        if (mismatch)
        {
            var meta = (_stages[0].Pre?.Session ?? _stages[0].Main.Session).InputMetadata[InputName];
            throw new ArgumentException($"ONNX model '{ModelPath}' input {OnnxModelDescription.Format(InputName, meta)} "
                + $"does not accept a batch of shape {OnnxModelDescription.Shape(shape)}"
                + (d.Count == 4 && d[2] > 0 ? $"; declare InputSize = {d[2]} or feed {d[2]}x{d[3]} images." : "."));
        }
    }

    private Tensor[] RunPerImage(Tensor x, int batch)
    {
        var outputs = _perImageOutputShapes.Select(s => empty(s.Select((v, i) => i == 0 ? batch : v).ToArray())).ToArray();
        var perImageIn = checked((int)(x.numel() / batch));
        var perImageOut = _perImageOutputShapes.Select(s => checked((int)s.Aggregate(1L, (a, b) => a * b))).ToArray();
        var inPtr = DataPointer(x);
        var outPtrs = outputs.Select(o => DataPointer(o)).ToArray();
        void RunRange(int worker, int start, int step)
        {
            for (var i = start; i < batch; i += step)
            {
                _workers[worker].Run(inPtr, perImageIn, i, outPtrs, perImageOut, ModelPath);
            }
        }
        if (_workers.Length == 1 || batch == 1)
        {
            RunRange(0, 0, 1);
        }
        else
        {
            var n = Math.Min(_workers.Length, batch);
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = n }, w => RunRange(w, w, n));
        }
        return outputs;
    }

    private Tensor[] RunBatch(Tensor x)
    {
        var stage = _stages[0];
        var shape = x.shape;
        using var input = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float,
            shape, DataPointer(x), x.numel() * sizeof(float));
        try
        {
            IDisposableReadOnlyCollection<OrtValue>? preOut = null;
            try
            {
                var mainInput = input;
                if (stage.Pre is { } pre)
                {
                    preOut = pre.Session.Run(stage.RunOptions, [pre.InputName], [input], [pre.OutputName]);
                    mainInput = preOut[0];
                }
                using var results = stage.Main.Session.Run(stage.RunOptions, [stage.Main.InputName], [mainInput], _outputNames);
                return results.Select(ToTorch).ToArray();
            }
            finally
            {
                preOut?.Dispose();
            }
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidOperationException($"ONNX Runtime rejected a batch of shape {OnnxModelDescription.Shape(shape)} "
                + $"for model '{ModelPath}' ({OnnxModelDescription.Describe(stage.Main.Session)}): {ex.Message}", ex);
        }
    }

    private static unsafe Tensor ToTorch(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var result = empty(info.Shape);
        var source = value.GetTensorDataAsSpan<float>();
        source.CopyTo(new Span<float>((void*)DataPointer(result), source.Length));
        return result;
    }

    /// <summary>Address of a contiguous CPU tensor's first element (its storage, not a copy).</summary>
    private static unsafe IntPtr DataPointer(Tensor t) =>
        (IntPtr)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(t.bytes));

    private Tensor Pool(Tensor raw) => raw.dim() switch
    {
        2 => raw,
        3 => _options.FeaturePooling switch
        {
            OnnxFeaturePooling.FirstToken => raw[.., 0],
            OnnxFeaturePooling.Max => raw.amax([1]),
            _ => raw.mean([1]),
        },
        _ => _options.FeaturePooling == OnnxFeaturePooling.Max ? raw.amax([2, 3]) : raw.mean([2, 3]),
    };

    /// <summary>One ONNX Runtime session of a model, with the names it is run with.</summary>
    internal sealed class SessionHandle(InferenceSession session, string inputName, string outputName) : IDisposable
    {
        public InferenceSession Session { get; } = session;

        public string InputName { get; } = inputName;

        /// <summary>The single output (used for a preprocessor).</summary>
        public string OutputName { get; } = outputName;

        public void Dispose() => Session.Dispose();

        public static SessionHandle Load(string path, SessionOptions options, string? inputName, string role)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"ONNX {role} model '{path}' does not exist.", path);
            }
            InferenceSession session;
            try
            {
                session = new InferenceSession(path, options);
            }
            catch (OnnxRuntimeException ex)
            {
                throw new InvalidDataException($"'{path}' is not an ONNX model that ONNX Runtime can load ({role}): {ex.Message}", ex);
            }
            try
            {
                var inputs = session.InputMetadata;
                if (inputName is null && inputs.Count != 1)
                {
                    throw new InvalidDataException($"ONNX {role} model '{path}' has {inputs.Count} inputs; name the image "
                        + $"input (OnnxTeacherOptions.InputName). Inputs: {OnnxModelDescription.Join(inputs)}.");
                }
                var name = inputName ?? inputs.Keys.First();
                if (!inputs.TryGetValue(name, out var meta))
                {
                    throw new InvalidDataException($"ONNX {role} model '{path}' has no input '{name}'; its inputs are: "
                        + $"{OnnxModelDescription.Join(inputs)}.");
                }
                var d = meta.Dimensions;
                if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float || d.Length != 4)
                {
                    throw new InvalidDataException($"ONNX {role} model '{path}' input {OnnxModelDescription.Format(name, meta)} "
                        + "is not a float32 image batch [B, C, H, W].");
                }
                return new SessionHandle(session, name, session.OutputMetadata.Keys.First());
            }
            catch
            {
                session.Dispose();
                throw;
            }
        }
    }

    /// <summary>The sessions of one worker: optional preprocessor, then the teacher model.</summary>
    internal sealed class Stage : IDisposable
    {
        private readonly SessionOptions _sessionOptions;

        private Stage(SessionOptions sessionOptions, SessionHandle? pre, SessionHandle main)
        {
            _sessionOptions = sessionOptions;
            Pre = pre;
            Main = main;
            RunOptions = new RunOptions();
            ModelBatch = new[] { pre, main }.Where(h => h is not null)
                .Select(h => h!.Session.InputMetadata[h.InputName].Dimensions[0]).Where(b => b > 0).DefaultIfEmpty(-1).Min();
        }

        public SessionHandle? Pre { get; }

        public SessionHandle Main { get; }

        public RunOptions RunOptions { get; }

        /// <summary>Fixed batch size of the model (the smaller of preprocessor and teacher), or -1 when dynamic.</summary>
        public int ModelBatch { get; }

        public static Stage Create(string path, OnnxTeacherOptions options, int threads)
        {
            var so = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                InterOpNumThreads = 1,
                IntraOpNumThreads = threads,
                EnableCpuMemArena = options.MemoryArena,
                EnableMemoryPattern = options.MemoryPattern,
            };
            if (!options.Prepacking)
            {
                so.AddSessionConfigEntry("session.disable_prepacking", "1");
            }
            SessionHandle? pre = null;
            try
            {
                if (options.PreprocessorPath is { } prePath)
                {
                    pre = SessionHandle.Load(prePath, so, null, "preprocessor");
                    var preOut = pre.Session.OutputMetadata;
                    if (preOut.Count != 1 || preOut.Values.First().ElementDataType != TensorElementType.Float)
                    {
                        throw new InvalidDataException($"ONNX preprocessor '{prePath}' must have one float32 output; it has "
                            + $"{OnnxModelDescription.Join(preOut)}.");
                    }
                }
                var main = SessionHandle.Load(path, so, options.InputName, "teacher");
                return new Stage(so, pre, main);
            }
            catch
            {
                pre?.Dispose();
                so.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Pre?.Dispose();
            Main.Dispose();
            RunOptions.Dispose();
            _sessionOptions.Dispose();
        }
    }

    /// <summary>Runs one image at a time through a stage over input/output buffers allocated once, so the per-image loop
    /// allocates nothing.</summary>
    private sealed class ImageWorker : IDisposable
    {
        private readonly Stage _stage;
        private readonly float[] _input;
        private readonly OrtValue _inputValue;
        private readonly OrtValue? _preOutputValue;
        private readonly string[] _inputNames;
        private readonly string[] _preInputNames = [];
        private readonly string[] _preOutputNames = [];
        private readonly OrtValue[] _inputValues;
        private readonly OrtValue[] _preInputValues = [];
        private readonly OrtValue[] _preOutputValues = [];
        private readonly string[] _outputNames;
        private readonly float[][] _outputs;
        private readonly OrtValue[] _outputValues;

        public ImageWorker(Stage stage, int size, string[] outputNames, long[][]? outputShapes)
        {
            _stage = stage;
            _outputNames = outputNames;
            var shape = new long[] { 1, 3, size, size };
            _input = new float[3 * size * size];
            _inputValue = OrtValue.CreateTensorValueFromMemory(_input, shape);
            if (stage.Pre is { } pre)
            {
                // The preprocessor writes straight into the teacher's input buffer.
                _preOutputValue = OrtValue.CreateTensorValueFromMemory(new float[_input.Length], shape);
                _preInputNames = [pre.InputName];
                _preOutputNames = [pre.OutputName];
                _preInputValues = [_inputValue];
                _preOutputValues = [_preOutputValue];
            }
            _inputNames = [stage.Main.InputName];
            _inputValues = [_preOutputValue ?? _inputValue];
            _outputs = outputShapes?.Select(s => new float[s.Aggregate(1L, (a, b) => a * b)]).ToArray() ?? [];
            _outputValues = outputShapes is null ? [] : _outputs.Select((o, i) => OrtValue.CreateTensorValueFromMemory(o, outputShapes[i])).ToArray();
        }

        public long[][] ProbeShapes()
        {
            if (_stage.Pre is { } pre)
            {
                pre.Session.Run(_stage.RunOptions, _preInputNames, _preInputValues, _preOutputNames, _preOutputValues);
            }
            using var results = _stage.Main.Session.Run(_stage.RunOptions, _inputNames, _inputValues, _outputNames);
            return results.Select(r => r.GetTensorTypeAndShape().Shape).ToArray();
        }

        public unsafe void Run(IntPtr batchInput, int perImageIn, int index, IntPtr[] batchOutputs, int[] perImageOut, string path)
        {
            new ReadOnlySpan<float>((float*)batchInput + (long)index * perImageIn, perImageIn).CopyTo(_input);
            try
            {
                if (_stage.Pre is { } pre)
                {
                    pre.Session.Run(_stage.RunOptions, _preInputNames, _preInputValues, _preOutputNames, _preOutputValues);
                }
                _stage.Main.Session.Run(_stage.RunOptions, _inputNames, _inputValues, _outputNames, _outputValues);
            }
            catch (OnnxRuntimeException ex)
            {
                throw new InvalidOperationException($"ONNX Runtime failed on image {index} for model '{path}' "
                    + $"({OnnxModelDescription.Describe(_stage.Main.Session)}): {ex.Message}", ex);
            }
            for (var k = 0; k < _outputs.Length; k++)
            {
                _outputs[k].AsSpan().CopyTo(new Span<float>((float*)batchOutputs[k] + (long)index * perImageOut[k], perImageOut[k]));
            }
        }

        public void Dispose()
        {
            _inputValue.Dispose();
            _preOutputValue?.Dispose();
            foreach (var v in _outputValues)
            {
                v.Dispose();
            }
        }
    }
}
