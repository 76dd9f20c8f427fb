namespace VkD.Interop.Onnx;

/// <summary>How a spatial or token feature output of an ONNX teacher becomes one vector per image.</summary>
public enum OnnxFeaturePooling
{
    /// <summary>Mean over all positions: [B, C, H, W] over H and W, [B, N, D] over N (timm's global average pool).</summary>
    Average,

    /// <summary>Maximum over H and W (or over N for token outputs).</summary>
    Max,

    /// <summary>The first token of a [B, N, D] output (a ViT class token); not valid for 4-d outputs.</summary>
    FirstToken,
}

/// <summary>Options of <see cref="OnnxTeacher.Open(string, OnnxTeacherOptions?)"/>.</summary>
/// <remarks>
/// The trainer hands the teacher a batch normalised with <see cref="BatchMean"/>/<see cref="BatchStd"/> (ImageNet by
/// default, on pixels in [0, 1]). The teacher first undoes that normalisation, then applies the one the ONNX model was
/// trained with: <c>(pixel * PixelScale - ModelMean) / ModelStd</c>, optionally swapping RGB to BGR. Defaults give the
/// ImageNet normalisation of torchvision/timm exports, so such a model needs no options.
/// </remarks>
public sealed record OnnxTeacherOptions
{
    /// <summary>Name of the output that holds the teacher features; null picks an output named <c>features</c>,
    /// or the only output of a single-output model.</summary>
    public string? FeatureOutput { get; init; }

    /// <summary>Name of the output that holds the logits; null picks an output named <c>logits</c> if there is
    /// one, otherwise the teacher is feature-only (distil features only: gamma = 0).</summary>
    public string? LogitsOutput { get; init; }

    /// <summary>Name of the image input; null picks the model's only input.</summary>
    public string? InputName { get; init; }

    /// <summary>Square input size the model needs; batches of another size are resized (bilinear). Null keeps the
    /// batch size unless the model fixes its spatial size, which is then used.</summary>
    public int? InputSize { get; init; }

    /// <summary>Per-channel mean the incoming batch was normalised with (RGB, pixels in [0, 1]).</summary>
    public IReadOnlyList<float> BatchMean { get; init; } = [0.485f, 0.456f, 0.406f];

    /// <summary>Per-channel std the incoming batch was normalised with (RGB, pixels in [0, 1]).</summary>
    public IReadOnlyList<float> BatchStd { get; init; } = [0.229f, 0.224f, 0.225f];

    /// <summary>Pixel range the model expects: 1 for [0, 1], 255 for [0, 255] (CNTK, Caffe and ML.NET models).</summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>Per-channel mean the model subtracts (in the model's channel order and pixel scale).</summary>
    public IReadOnlyList<float> ModelMean { get; init; } = [0.485f, 0.456f, 0.406f];

    /// <summary>Per-channel std the model divides by (in the model's channel order and pixel scale).</summary>
    public IReadOnlyList<float> ModelStd { get; init; } = [0.229f, 0.224f, 0.225f];

    /// <summary>True when the model takes BGR channel order (applied before <see cref="ModelMean"/>).</summary>
    public bool Bgr { get; init; }

    /// <summary>Optional ONNX model run before the teacher on each batch (one float input, one float output), e.g. the
    /// <c>ResNetPreprocess.onnx</c> that ships with ML.NET's ResNet-18 (RGB to BGR and mean-image subtraction).</summary>
    public string? PreprocessorPath { get; init; }

    /// <summary>How a spatial [B, C, H, W] or token [B, N, D] feature output becomes [B, C].</summary>
    public OnnxFeaturePooling FeaturePooling { get; init; } = OnnxFeaturePooling.Average;

    /// <summary>ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Sessions run side by side when the model takes one image per call (fixed batch of 1); each gets
    /// <see cref="IntraOpThreads"/> threads. 1 runs the images in a loop over preallocated buffers.</summary>
    public int ParallelSessions { get; init; } = 1;

    /// <summary>ONNX Runtime's own CPU memory arena for activations (<c>EnableCpuMemArena</c>). The arena grows to the
    /// largest batch and never shrinks; off, activations come from the process allocator, which the <c>vkd</c>
    /// launcher's jemalloc keeps mapped between steps anyway (docs/benchmarks.md, "ONNX teacher memory").</summary>
    public bool MemoryArena { get; init; } = true;

    /// <summary>ONNX Runtime's memory-pattern planning (<c>EnableMemoryPattern</c>): one block sized for all of a
    /// run's activations, kept for the next run of the same shape.</summary>
    public bool MemoryPattern { get; init; } = true;

    /// <summary>Pre-packed weights (ONNX Runtime repacks GEMM and convolution weights into its kernels' layout at load
    /// time and keeps them beside the originals; off: <c>session.disable_prepacking</c>).</summary>
    public bool Prepacking { get; init; } = true;

    /// <summary>Options for an ML.NET DnnImageFeaturizer model (CNTK ResNet-18 and friends): 0-255 RGB input through
    /// the package's <c>ResNetPreprocess.onnx</c>, 512-d pooled features, no logits.</summary>
    /// <param name="preprocessorPath">Path of <c>ResNetPreprocess.onnx</c> from the same NuGet package.</param>
    public static OnnxTeacherOptions MlNetResNet(string preprocessorPath) => new()
    {
        PreprocessorPath = preprocessorPath,
        PixelScale = 255f,
        ModelMean = [0f, 0f, 0f],
        ModelStd = [1f, 1f, 1f],
        InputSize = 224,
    };
}
