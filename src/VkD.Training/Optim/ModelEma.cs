using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Training.Optim;

/// <summary>
/// An exponential moving average of a model (the student, a generator): after every optimiser step,
/// <c>ema ← m·ema + (1 − m)·student</c> with the momentum <c>m</c> of <see cref="EmaMomentumSchedule"/>.
/// Unlike the reference (which averages parameters only and leaves the copy's BatchNorm statistics at their
/// initial values), floating-point buffers are averaged too, as timm's ModelEmaV2 does, so an EMA of a CNN evaluates
/// correctly; integer buffers (e.g. <c>num_batches_tracked</c>) are copied.
/// </summary>
public sealed class ModelEma : IDisposable
{
    private readonly List<(Tensor Ema, Tensor Source, bool Average)> _pairs = [];

    /// <summary>Wraps <paramref name="ema"/>, a second instance of the student's architecture, and copies the
    /// student's current weights into it.</summary>
    public ModelEma(nn.Module ema, nn.Module student)
    {
        Model = ema;
        ema.eval();
        foreach (var p in ema.parameters())
        {
            p.requires_grad = false;
        }
        var source = student.state_dict();
        var target = ema.state_dict();
        if (!source.Keys.OrderBy(k => k).SequenceEqual(target.Keys.OrderBy(k => k)))
        {
            throw new ArgumentException("The EMA model's state-dict keys differ from the student's; build it with the same architecture and options.", nameof(ema));
        }
        using var _ = no_grad();
        foreach (var (key, t) in target)
        {
            var s = source[key];
            t.copy_(s);
            _pairs.Add((t, s, t.is_floating_point()));
        }
    }

    /// <summary>The averaged model (kept in eval mode).</summary>
    public nn.Module Model { get; }

    /// <summary>Applies one EMA step with momentum <paramref name="momentum"/>.</summary>
    public void Update(double momentum)
    {
        using var _ = no_grad();
        foreach (var (ema, source, average) in _pairs)
        {
            if (average)
            {
                ema.mul_(momentum).add_(source, 1 - momentum);
            }
            else
            {
                ema.copy_(source);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
