using VkD.Distillation.Teachers;

namespace VkD.Training.Teachers;

/// <summary>What a teacher is built from: the <c>--teacher</c> spec, <c>--teacher-path</c>, and the data's shape.</summary>
/// <param name="Spec">The <c>--teacher</c> value: a zoo model name or <c>prefix:argument</c> (e.g. <c>onnx:model.onnx</c>).</param>
/// <param name="WeightsPath">The <c>--teacher-path</c> value (empty if not given).</param>
/// <param name="NumClasses">Classes of the dataset being trained on.</param>
/// <param name="InputSize">Side of the square input images.</param>
/// <param name="InChannels">Channels of the input images.</param>
public sealed record TeacherRequest(string Spec, string WeightsPath, int NumClasses, int InputSize, int InChannels = 3);

/// <summary>
/// Builds an <see cref="ITeacher"/> from <c>--teacher</c>. A spec with a registered prefix (<c>onnx:PATH</c>) goes to
/// that prefix's builder; anything else is a zoo model name, built by the default builder (a frozen
/// <see cref="ModelTeacher"/> with weights from <c>--teacher-path</c>). Other backends extend it with
/// <see cref="Register"/>.
/// </summary>
public static class TeacherFactory
{
    private static readonly Dictionary<string, Func<TeacherRequest, ITeacher>> Builders = new(StringComparer.OrdinalIgnoreCase);
    private static readonly Lock Gate = new();
    private static Func<TeacherRequest, ITeacher>? _zooBuilder;

    /// <summary>Registers the builder of specs of the form <c>prefix:argument</c> (replacing an earlier one).</summary>
    public static void Register(string prefix, Func<TeacherRequest, ITeacher> builder)
    {
        lock (Gate)
        {
            Builders[prefix] = builder;
        }
    }

    /// <summary>Sets the builder for plain zoo model names (done once by the training entry points).</summary>
    public static void RegisterZoo(Func<TeacherRequest, ITeacher> builder)
    {
        lock (Gate)
        {
            _zooBuilder = builder;
        }
    }

    /// <summary>Prefixes with a registered builder.</summary>
    public static IReadOnlyCollection<string> Prefixes
    {
        get
        {
            lock (Gate)
            {
                return Builders.Keys.ToArray();
            }
        }
    }

    /// <summary>Builds the teacher described by <paramref name="request"/>.</summary>
    public static ITeacher Create(TeacherRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Spec))
        {
            throw new ArgumentException("No teacher given: pass --teacher <zoo model name> (with --teacher-path) or --teacher onnx:PATH.");
        }
        Func<TeacherRequest, ITeacher>? builder;
        var colon = request.Spec.IndexOf(':');
        lock (Gate)
        {
            if (colon > 0 && Builders.TryGetValue(request.Spec[..colon], out builder))
            {
                return builder(request with { Spec = request.Spec[(colon + 1)..] });
            }
            builder = _zooBuilder;
        }
        if (colon > 1)
        {
            throw new ArgumentException($"Unknown teacher kind '{request.Spec[..colon]}' in --teacher {request.Spec}; known kinds: {string.Join(", ", Prefixes.DefaultIfEmpty("(none registered)"))}, or a zoo model name.");
        }
        return (builder ?? throw new InvalidOperationException("No zoo teacher builder is registered."))(request);
    }
}
