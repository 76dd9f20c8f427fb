using TorchSharp;
using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// FitNets (Romero et al., ICLR 2015; mdistiller / RepDistiller <c>FitNet</c>): the student's hint layer, through a
/// <see cref="HintRegressor"/>, regresses the teacher's guided layer by mean squared error,
/// <c>MSE(regressor(f_s), f_t)</c>, trained jointly with the task loss (mdistiller's one-stage recipe, weight 100). A ViT
/// side is paired with a CNN side by reading its patch tokens as a map (<see cref="TokenGrid"/>). The regressor is
/// registered under the term's name (<c>fitnet.regressor.conv.weight</c>, ...).
/// </summary>
public sealed class FitNetTerm : nn.Module, ILossTerm
{
    /// <summary>Components are registered explicitly.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Creates the term for the named features, whose shapes (from a probe forward pass) size the regressor.</summary>
    public FitNetTerm(string studentFeature, string teacherFeature, IReadOnlyList<long> studentShape, IReadOnlyList<long> teacherShape,
        double weight = 100.0, string name = "fitnet") : base(name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(studentFeature);
        ArgumentException.ThrowIfNullOrWhiteSpace(teacherFeature);
        MethodChecks.NonNegative(name, "weight", weight);
        Name = name;
        Weight = weight;
        StudentFeature = studentFeature;
        TeacherFeature = teacherFeature;
        var (s, t) = TokenGrid.AlignShapes(studentShape, teacherShape, name);
        Regressor = new HintRegressor(s, t, name);
        register_module("regressor", Regressor);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Weight { get; }

    /// <inheritdoc />
    public bool NeedsTeacher => true;

    /// <summary>The student's hint feature (a tapped module path or a named output).</summary>
    public string StudentFeature { get; }

    /// <summary>The teacher's guided feature.</summary>
    public string TeacherFeature { get; }

    /// <summary>The regressor.</summary>
    public HintRegressor Regressor { get; }

    /// <inheritdoc />
    public Tensor Compute(LossInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var student = inputs.Student.Require(StudentFeature, Name);
        var teacher = inputs.RequireTeacher(Name).Require(TeacherFeature, Name).detach();
        using var scope = NewDisposeScope();
        (student, teacher) = TokenGrid.Align(student, teacher, Name);
        if (!student.shape.Skip(1).SequenceEqual(Regressor.StudentShape.Skip(1)))
        {
            throw new ArgumentException($"Loss term '{Name}': the regressor was built for student features {MethodInputs.Shape(Regressor.StudentShape)}, got {MethodInputs.Shape(student.shape)}.");
        }
        var hint = Regressor.call(student);
        if (!hint.shape.SequenceEqual(teacher.shape))
        {
            throw new ArgumentException($"Loss term '{Name}': the regressed hint {MethodInputs.Shape(hint.shape)} does not match the teacher's feature {MethodInputs.Shape(teacher.shape)}.");
        }
        return nn.functional.mse_loss(hint, teacher, nn.Reduction.Mean).MoveToOuterDisposeScope();
    }
}
