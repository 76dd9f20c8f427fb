using System.Diagnostics;
using System.Globalization;

namespace VkD.Training.Loop;

/// <summary>
/// Where the time of the training steps goes, by part: the loop times <c>data</c> (waiting for the next batch),
/// <c>backward</c>, <c>optimizer</c> (zero-grad, gradient sync, clipping, the update and its finiteness check) and
/// <c>ema</c>; a task times its own parts inside its loss (<c>teacher</c>, <c>student</c>, <c>loss</c> for
/// classification). Wall-clock time: on the CPU libtorch runs each op before returning, so a part's time is its own;
/// on a GPU the kernels are asynchronous and the time lands on whichever part next waits for them.
/// </summary>
public sealed class StepProfile
{
    /// <summary>The time spent waiting for the next batch from the loader.</summary>
    public const string Data = "data";

    /// <summary>The frozen teacher's forward (or its replay from the teacher-output cache).</summary>
    public const string Teacher = "teacher";

    /// <summary>The student's forward.</summary>
    public const string Student = "student";

    /// <summary>The distiller's terms: projectors, normalisations and losses.</summary>
    public const string Loss = "loss";

    /// <summary>Back-propagation of the total loss.</summary>
    public const string Backward = "backward";

    /// <summary>Zero-grad, gradient all-reduce, clipping, the optimiser's update and the finiteness check.</summary>
    public const string Optimizer = "optimizer";

    /// <summary>The EMA model's update.</summary>
    public const string Ema = "ema";

    private readonly List<string> _order = [];
    private readonly Dictionary<string, long> _ticks = new(StringComparer.Ordinal);

    /// <summary>Steps recorded (<see cref="EndStep"/> calls).</summary>
    public long Steps { get; private set; }

    /// <summary>Wall-clock ticks of whole steps, data wait included.</summary>
    public long StepTicks { get; private set; }

    /// <summary>Starts timing <paramref name="part"/>; the time is added when the returned scope is disposed.</summary>
    public Scope Measure(string part) => new(this, part, Stopwatch.GetTimestamp());

    /// <summary>Times <paramref name="part"/> on <paramref name="profile"/>, or nothing when it is null (a loop run
    /// without a profile).</summary>
    public static Scope Time(StepProfile? profile, string part) => profile is null ? default : profile.Measure(part);

    /// <summary>Adds <paramref name="ticks"/> (<see cref="Stopwatch"/> ticks) to <paramref name="part"/>.</summary>
    public void Add(string part, long ticks)
    {
        ArgumentNullException.ThrowIfNull(part);
        if (!_ticks.TryGetValue(part, out var sum))
        {
            _order.Add(part);
        }
        _ticks[part] = sum + ticks;
    }

    /// <summary>Counts one step that took <paramref name="ticks"/> in all.</summary>
    public void EndStep(long ticks)
    {
        Steps++;
        StepTicks += ticks;
    }

    /// <summary>Forgets everything recorded (a benchmark's warm-up steps).</summary>
    public void Reset()
    {
        _order.Clear();
        _ticks.Clear();
        Steps = 0;
        StepTicks = 0;
    }

    /// <summary>Mean seconds per step of each part in the order first timed, and <c>other</c> for the rest of the
    /// step (logging, checkpoints, resizing, what no part covers).</summary>
    public IReadOnlyList<(string Part, double Seconds)> PerStep()
    {
        if (Steps == 0)
        {
            return [];
        }
        var rows = _order.Select(p => (p, _ticks[p] / (double)Stopwatch.Frequency / Steps)).ToList();
        var other = StepTicks / (double)Stopwatch.Frequency / Steps - rows.Sum(r => r.Item2);
        rows.Add(("other", Math.Max(0, other)));
        return rows;
    }

    /// <summary>Mean seconds of a whole step.</summary>
    public double SecondsPerStep => Steps == 0 ? 0 : StepTicks / (double)Stopwatch.Frequency / Steps;

    /// <summary>One line: the mean step time and each part's seconds and share, e.g. for the end of a run.</summary>
    public string Describe()
    {
        var total = SecondsPerStep;
        if (Steps == 0 || total <= 0)
        {
            return "No training step was timed.";
        }
        var inv = CultureInfo.InvariantCulture;
        var parts = PerStep().Select(r => string.Create(inv, $"{r.Part} {Seconds(r.Seconds)} ({100 * r.Seconds / total:F0}%)"));
        return string.Create(inv, $"Time per step over {Steps} steps: {Seconds(total)}; {string.Join(", ", parts)}.");
    }

    private static string Seconds(double s) => s >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{s:F2} s")
        : string.Create(CultureInfo.InvariantCulture, $"{1000 * s:F1} ms");

    /// <summary>The timing of one part, ended by <see cref="Dispose"/>.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly StepProfile? _profile;
        private readonly string _part;
        private readonly long _start;

        internal Scope(StepProfile profile, string part, long start)
        {
            _profile = profile;
            _part = part;
            _start = start;
        }

        /// <inheritdoc />
        public void Dispose() => _profile?.Add(_part, Stopwatch.GetTimestamp() - _start);
    }
}
