using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>
/// FitNets' regressor from the student's hint layer to the teacher's (mdistiller / RepDistiller <c>ConvReg</c>): for
/// feature maps a convolution chosen by the spatial sizes — 3×3 stride 2 when the student's map is twice the teacher's,
/// a 4×4 stride-2 transposed convolution when it is half, otherwise a <c>(1 + H_s − H_t) × (1 + W_s − W_t)</c>
/// convolution (1×1 for equal sizes) — then BatchNorm and ReLU; for token sequences and vectors a linear layer.
/// State-dict keys <c>conv.*</c>, <c>bn.*</c> (maps) or <c>linear.*</c> (rows).
/// </summary>
public sealed class HintRegressor : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>? _conv;
    private readonly BatchNorm2d? _bn;
    private readonly Linear? _linear;

    /// <summary>Components are registered explicitly under the reference's names.</summary>
    protected override void RegisterComponents()
    {
    }

    /// <summary>Builds the regressor from the student's and the teacher's feature shapes (same rank: [B, C, H, W],
    /// [B, N, D] or [B, D]).</summary>
    /// <exception cref="ArgumentException">The shapes cannot be paired; the message names the term and the shapes.</exception>
    public HintRegressor(IReadOnlyList<long> studentShape, IReadOnlyList<long> teacherShape, string term = "fitnet") : base(nameof(HintRegressor))
    {
        ArgumentNullException.ThrowIfNull(studentShape);
        ArgumentNullException.ThrowIfNull(teacherShape);
        var s = MethodInputs.Shape(studentShape);
        var t = MethodInputs.Shape(teacherShape);
        if (studentShape.Count != teacherShape.Count || studentShape.Count is < 2 or > 4)
        {
            throw new ArgumentException($"Loss term '{term}': no regressor maps student features {s} to teacher features {t}; both must be maps [B, C, H, W], tokens [B, N, D] or vectors [B, D].");
        }
        StudentShape = [.. studentShape];
        TeacherShape = [.. teacherShape];
        if (studentShape.Count == 4)
        {
            long sc = studentShape[1], sh = studentShape[2], sw = studentShape[3];
            long tc = teacherShape[1], th = teacherShape[2], tw = teacherShape[3];
            if (sh == 2 * th && sw == 2 * tw)
            {
                _conv = nn.Conv2d(sc, tc, kernel_size: 3, stride: 2, padding: 1);
            }
            else if (sh * 2 == th && sw * 2 == tw)
            {
                _conv = nn.ConvTranspose2d(sc, tc, kernel_size: 4, stride: 2, padding: 1);
            }
            else if (sh >= th && sw >= tw)
            {
                _conv = nn.Conv2d(sc, tc, kernel_size: (1 + sh - th, 1 + sw - tw));
            }
            else
            {
                throw new ArgumentException(
                    $"Loss term '{term}': the student's hint map {s} is smaller than the teacher's {t} and not half its size, so no convolutional regressor maps it; tap a larger student layer or a smaller teacher layer.");
            }
            _bn = nn.BatchNorm2d(tc);
            register_module("conv", _conv);
            register_module("bn", _bn);
        }
        else
        {
            if (studentShape.Count == 3 && studentShape[1] != teacherShape[1])
            {
                throw new ArgumentException($"Loss term '{term}': student tokens {s} and teacher tokens {t} differ in number, so no linear regressor pairs them.");
            }
            _linear = nn.Linear(studentShape[^1], teacherShape[^1]);
            register_module("linear", _linear);
        }
    }

    /// <summary>The student's feature shape it was built for.</summary>
    public IReadOnlyList<long> StudentShape { get; }

    /// <summary>The teacher's feature shape it maps to.</summary>
    public IReadOnlyList<long> TeacherShape { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (_linear is not null)
        {
            return _linear.call(input);
        }
        using var scope = NewDisposeScope();
        return nn.functional.relu(_bn!.call(_conv!.call(input))).MoveToOuterDisposeScope();
    }
}
