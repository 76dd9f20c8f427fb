using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// CRD's memory bank (RepDistiller <c>ContrastMemory</c>): one embedding per training sample for each side
/// (<c>memory_v1</c>: student, <c>memory_v2</c>: teacher), initialised uniformly in ±1/√(D/3). A step scores each
/// sample's embedding against the other side's memory rows of its positive and its K negatives,
/// <c>exp(⟨m, v⟩ / T) / Z</c>, where the normalisation constant Z of each side is fixed at the first step to
/// <c>mean · N</c>; then the positives' rows move towards the new embeddings, <c>m ← normalize(momentum · m + (1 −
/// momentum) · v)</c>. The buffer <c>params</c> holds (K, T, Z_v1, Z_v2, momentum) as the reference's, so a checkpoint
/// carries the constants with the memory.
/// </summary>
public sealed class ContrastMemory : nn.Module
{
    private readonly Tensor _params;
    private readonly Tensor _memoryStudent;
    private readonly Tensor _memoryTeacher;

    /// <summary>Buffers are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the bank of <paramref name="dataCount"/> rows of width <paramref name="featureDim"/> (from the
    /// global generator).</summary>
    public ContrastMemory(int featureDim, int dataCount, int negatives, double temperature = 0.07, double momentum = 0.5) : base(nameof(ContrastMemory))
    {
        MethodChecks.PositiveCount("crd", "feature dim", featureDim);
        MethodChecks.PositiveCount("crd", "data count", dataCount);
        MethodChecks.PositiveCount("crd", "negatives", negatives);
        MethodChecks.Positive("crd", "temperature", temperature);
        if (!(momentum >= 0 && momentum <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Loss term 'crd': the memory momentum must be in [0, 1].");
        }
        DataCount = dataCount;
        Negatives = negatives;
        _params = tensor(new float[] { negatives, (float)temperature, -1f, -1f, (float)momentum });
        var bound = 1.0 / Math.Sqrt(featureDim / 3.0);
        _memoryStudent = rand(dataCount, featureDim).mul_(2 * bound).add_(-bound);
        _memoryTeacher = rand(dataCount, featureDim).mul_(2 * bound).add_(-bound);
        register_buffer("params", _params);
        register_buffer("memory_v1", _memoryStudent);
        register_buffer("memory_v2", _memoryTeacher);
    }

    /// <summary>Rows of the bank: the number of training samples N.</summary>
    public int DataCount { get; }

    /// <summary>Negatives K per positive.</summary>
    public int Negatives { get; }

    /// <summary>The student-side memory [N, D] (<c>memory_v1</c>).</summary>
    public Tensor StudentMemory => get_buffer("memory_v1")!;

    /// <summary>The teacher-side memory [N, D] (<c>memory_v2</c>).</summary>
    public Tensor TeacherMemory => get_buffer("memory_v2")!;

    /// <summary>(K, T, Z_v1, Z_v2, momentum); Z is -1 until the first step sets it.</summary>
    public Tensor Params => get_buffer("params")!;

    /// <summary>
    /// Contrast indices [B, K + 1] for the positives <paramref name="indices"/> [B]: column 0 is the positive, the
    /// others are drawn uniformly from the N rows (the reference's sampler for a uniform noise distribution), from the
    /// global generator the loop seeds per step.
    /// </summary>
    public Tensor SampleContrastIndices(Tensor indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var contrast = randint(0, DataCount, [indices.shape[0], Negatives + 1], dtype: ScalarType.Int64, device: indices.device);
        contrast.select(1, 0).copy_(indices);
        return contrast;
    }

    /// <summary>
    /// The scores of both anchors — student embeddings against the teacher memory (<c>OutStudent</c>, the reference's
    /// <c>out_v1</c>) and teacher embeddings against the student memory (<c>OutTeacher</c>, <c>out_v2</c>), each
    /// [B, K + 1, 1] — then the momentum update of the positives' rows.
    /// </summary>
    public (Tensor OutStudent, Tensor OutTeacher) Score(Tensor student, Tensor teacher, Tensor indices, Tensor contrastIndices)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(contrastIndices);
        var memoryStudent = StudentMemory;
        var memoryTeacher = TeacherMemory;
        var p = Params;
        var k = (long)p[0].item<float>();
        var temperature = (double)p[1].item<float>();
        var momentum = (double)p[4].item<float>();
        var (b, d) = (student.shape[0], student.shape[1]);
        if (contrastIndices.shape[0] != b || contrastIndices.shape[1] != k + 1)
        {
            throw new ArgumentException($"Loss term 'crd': contrast indices must be [B, K + 1] = [{b}, {k + 1}], got {MethodInputs.Shape(contrastIndices.shape)}.");
        }
        using var scope = NewDisposeScope();
        var flat = contrastIndices.reshape(-1);
        var rowsStudent = memoryStudent.index_select(0, flat).detach().reshape(b, k + 1, d);
        var outTeacher = (bmm(rowsStudent, teacher.reshape(b, d, 1)) / temperature).exp();
        var rowsTeacher = memoryTeacher.index_select(0, flat).detach().reshape(b, k + 1, d);
        var outStudent = (bmm(rowsTeacher, student.reshape(b, d, 1)) / temperature).exp();
        using (no_grad())
        {
            if (p[2].item<float>() < 0)
            {
                p[2] = outStudent.mean() * DataCount;
            }
            if (p[3].item<float>() < 0)
            {
                p[3] = outTeacher.mean() * DataCount;
            }
        }
        outStudent = outStudent / (double)p[2].item<float>();
        outTeacher = outTeacher / (double)p[3].item<float>();
        using (no_grad())
        {
            Update(memoryStudent, student, indices, momentum);
            Update(memoryTeacher, teacher, indices, momentum);
        }
        return (outStudent.MoveToOuterDisposeScope(), outTeacher.MoveToOuterDisposeScope());
    }

    private static void Update(Tensor memory, Tensor embeddings, Tensor indices, double momentum)
    {
        var rows = memory.index_select(0, indices) * momentum + embeddings.detach() * (1 - momentum);
        memory.index_copy_(0, indices, rows / rows.pow(2).sum(1, keepdim: true).pow(0.5));
    }
}
