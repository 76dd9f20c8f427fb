using TorchSharp;
using VkD.Distillation.Distiller;
using static TorchSharp.torch;

namespace VkD.Distillation.Methods;

/// <summary>The module paths a method taps on each side (empty: it reads only the named outputs).</summary>
/// <param name="Student">Student module paths, in stage order.</param>
/// <param name="Teacher">Teacher module paths, paired with <paramref name="Student"/> by position.</param>
public sealed record MethodTaps(IReadOnlyList<string> Student, IReadOnlyList<string> Teacher)
{
    /// <summary>No taps.</summary>
    public static MethodTaps None { get; } = new([], []);
}

/// <summary>What <see cref="DistillationMethods.Create"/> builds a method's terms from.</summary>
public sealed class MethodSetup
{
    /// <summary>The method (<see cref="DistillationMethods.Names"/>, except <c>vkd</c>, which <c>DistillationLoss</c> builds).</summary>
    public required string Method { get; init; }

    /// <summary>The method's hyper-parameters (its published defaults where absent).</summary>
    public MethodOptions Options { get; init; } = MethodOptions.Empty;

    /// <summary>The taps from <see cref="DistillationMethods.ResolveTaps"/>.</summary>
    public MethodTaps Taps { get; init; } = MethodTaps.None;

    /// <summary>Shape of every student feature (named outputs and taps) from a probe forward pass.</summary>
    public required IReadOnlyDictionary<string, long[]> StudentShapes { get; init; }

    /// <summary>Shape of every teacher feature; <see cref="FeatureNames.Logits"/> absent for a feature-only teacher.</summary>
    public required IReadOnlyDictionary<string, long[]> TeacherShapes { get; init; }

    /// <summary>Label smoothing of the cross-entropy.</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Weight of logit KD for the methods whose original has it (kd, srd).</summary>
    public double Gamma { get; init; } = 1.0;

    /// <summary>Temperature of the logit KD term.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Training samples (CRD's memory rows; the largest dataset index + 1).</summary>
    public int DataCount { get; init; }

    /// <summary>True when the batches carry soft (Mixup/CutMix) targets instead of integer labels.</summary>
    public bool SoftTargets { get; init; }
}

/// <summary>
/// The distillation methods of <c>vkd distill --distill-method</c>: for each, the terms of the
/// <see cref="FeatureDistiller"/> with the method's published defaults, the cross-entropy <c>ce</c> and the logit KD
/// term <c>kd</c> (weight <c>--gamma</c> where the original has logit KD — kd, srd, vkd — and otherwise the
/// <c>kd</c> option, default 0), and every check that a student/teacher pairing can work, raised before any step.
/// </summary>
public static class DistillationMethods
{
    /// <summary>The methods, <c>vkd</c> (today's orthogonal projector + normalisation) being the default.</summary>
    public static IReadOnlyList<string> Names { get; } = ["kd", "dkd", "dist", "fitnet", "at", "rkd", "pkt", "crd", "srd", "vkd"];

    /// <summary>The methods whose original includes logit KD, weighted by <c>--gamma</c>.</summary>
    public static IReadOnlyList<string> WithLogitKd { get; } = ["kd", "srd", "vkd"];

    private static readonly Dictionary<string, string[]> Keys = new(StringComparer.Ordinal)
    {
        ["kd"] = [],
        ["vkd"] = [],
        ["dkd"] = ["weight", "kd", "alpha", "beta", "temperature", "warmup"],
        ["dist"] = ["weight", "kd", "beta", "gamma", "tau"],
        ["fitnet"] = ["weight", "kd"],
        ["at"] = ["weight", "kd", "p"],
        ["rkd"] = ["weight", "kd", "distance", "angle", "squared", "eps"],
        ["pkt"] = ["weight", "kd", "eps"],
        ["crd"] = ["weight", "kd", "feat_dim", "k", "temperature", "momentum"],
        ["srd"] = ["weight", "bn_eps", "log_eps"],
    };

    /// <summary>The <c>--method-options</c> keys of <paramref name="method"/>.</summary>
    public static IReadOnlyList<string> OptionKeys(string method) => Keys[RequireKnown(method)];

    /// <summary>True when the method reads teacher logits (always, or through a non-zero <c>kd</c> weight).</summary>
    public static bool NeedsTeacherLogits(string method, MethodOptions options, double gamma)
    {
        ArgumentNullException.ThrowIfNull(options);
        return RequireKnown(method) switch
        {
            "dkd" or "dist" => true,
            "kd" or "srd" or "vkd" => gamma > 0,
            _ => options.Double("kd", 0) > 0,
        };
    }

    /// <summary>Checks the method name and its options without any model or data, so bad flags fail at once.</summary>
    /// <exception cref="ArgumentException">Unknown method or option; the message lists the accepted ones.</exception>
    public static MethodOptions Validate(string method, string? optionsText)
    {
        var options = MethodOptions.Parse(optionsText);
        options.RequireKnown(method, Keys[RequireKnown(method)]);
        // Reading every value once turns a malformed number into an error now rather than at the first step.
        foreach (var key in options.Keys)
        {
            if (key == "squared")
            {
                options.Bool(key, false);
            }
            else
            {
                options.Double(key, 0);
            }
        }
        return options;
    }

    /// <summary>
    /// The module paths <paramref name="method"/> taps: <paramref name="studentTaps"/>/<paramref name="teacherTaps"/>
    /// when given, otherwise the defaults of the models' families (<see cref="DefaultTaps"/>): every stage, matched in
    /// number, for attention transfer; the middle stage (mdistiller's hint layer 2 of the CIFAR ResNets) for FitNets.
    /// The other methods read the pooled <c>features</c> unless taps are given (one per side).
    /// </summary>
    /// <param name="method">The method.</param>
    /// <param name="student">The student model.</param>
    /// <param name="teacher">The teacher model, or null when the teacher is not a TorchSharp module (ONNX).</param>
    /// <param name="studentTaps">Explicit student taps (empty: defaults).</param>
    /// <param name="teacherTaps">Explicit teacher taps (empty: defaults).</param>
    /// <exception cref="ArgumentException">The taps cannot be resolved (no defaults for the family, counts differ,
    /// a teacher that cannot be tapped); the message says which flag to pass.</exception>
    public static MethodTaps ResolveTaps(string method, nn.Module student, nn.Module? teacher, IReadOnlyList<string> studentTaps, IReadOnlyList<string> teacherTaps)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(studentTaps);
        ArgumentNullException.ThrowIfNull(teacherTaps);
        method = RequireKnown(method);
        if (method is "kd" or "dkd" or "dist" or "vkd")
        {
            if (studentTaps.Count > 0 || teacherTaps.Count > 0)
            {
                throw new ArgumentException($"--distill-method {method} distils {(method == "vkd" ? "the pooled features" : "logits")} and reads no taps; drop --student-taps/--teacher-taps.");
            }
            return MethodTaps.None;
        }
        if (teacher is null && teacherTaps.Count > 0)
        {
            throw new ArgumentException("--teacher-taps need a zoo (TorchSharp) teacher; an ONNX teacher gives its named outputs only (logits, features).");
        }
        var mapMethod = method is "fitnet" or "at";
        if (!mapMethod)
        {
            if (studentTaps.Count > 1 || teacherTaps.Count > 1)
            {
                throw new ArgumentException($"--distill-method {method} pairs one feature per side; give at most one --student-taps and one --teacher-taps path.");
            }
            return new MethodTaps(studentTaps, teacherTaps);
        }
        if (teacher is null)
        {
            throw new ArgumentException(
                $"--distill-method {method} distils intermediate feature maps, which an ONNX teacher does not give (only its logits and pooled features); " +
                "use a zoo teacher (--teacher MODEL --teacher-path CKPT), or a method on outputs (kd, dkd, dist, rkd, pkt, crd, srd, vkd).");
        }
        if (method == "fitnet" && (studentTaps.Count > 1 || teacherTaps.Count > 1))
        {
            throw new ArgumentException("FitNets distils one hint layer: give one --student-taps and one --teacher-taps path.");
        }
        if (studentTaps.Count > 0 && teacherTaps.Count > 0)
        {
            if (studentTaps.Count != teacherTaps.Count)
            {
                throw new ArgumentException($"--student-taps names {studentTaps.Count} modules and --teacher-taps {teacherTaps.Count}; {method} pairs them in order, so give as many of each.");
            }
            return new MethodTaps(studentTaps, teacherTaps);
        }
        var studentStages = studentTaps.Count > 0 ? studentTaps : DefaultTaps.Stages(student);
        var teacherStages = teacherTaps.Count > 0 ? teacherTaps : DefaultTaps.Stages(teacher);
        if (studentStages.Count == 0 || teacherStages.Count == 0)
        {
            var side = studentStages.Count == 0 ? "student" : "teacher";
            throw new ArgumentException($"--distill-method {method}: no default stages are known for the {side} ({(side == "student" ? student : teacher).GetName()}); name its modules with --{side}-taps.");
        }
        var given = studentTaps.Count > 0 ? studentTaps.Count : teacherTaps.Count;
        if (given > 0 && Math.Min(studentStages.Count, teacherStages.Count) < given)
        {
            throw new ArgumentException($"{given} taps are given on one side, but the other side has only {Math.Min(studentStages.Count, teacherStages.Count)} default stages; name as many modules with --student-taps and --teacher-taps.");
        }
        var count = given > 0 ? given : Math.Min(studentStages.Count, teacherStages.Count);
        var s = DefaultTaps.Pick(studentStages, count);
        var t = DefaultTaps.Pick(teacherStages, count);
        if (method == "fitnet" && count > 1)
        {
            // The middle stage: mdistiller's hint layer 2 of [stem, layer1, layer2, layer3] for the CIFAR ResNets.
            var hint = (count - 1) / 2;
            return new MethodTaps([s[hint]], [t[hint]]);
        }
        return new MethodTaps(s, t);
    }

    /// <summary>The terms of <c>setup.Method</c>, in logging order (<c>ce</c>, <c>kd</c>, then the method's).</summary>
    /// <exception cref="ArgumentException">A pairing that cannot work (missing teacher logits, class counts that
    /// differ, soft targets for DKD, features that no regressor or pooling pairs); the message says what is missing.</exception>
    public static IReadOnlyList<ILossTerm> Create(MethodSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var method = RequireKnown(setup.Method);
        if (method == "vkd")
        {
            throw new ArgumentException("--distill-method vkd is built by DistillationLoss (orthogonal projector + normalisation), not by the method catalogue.");
        }
        var o = setup.Options;
        o.RequireKnown(method, Keys[method]);
        var kdWeight = WithLogitKd.Contains(method) ? setup.Gamma : o.Double("kd", 0);
        if (NeedsTeacherLogits(method, o, setup.Gamma))
        {
            RequireLogits(method, setup, kdWeight);
        }
        var terms = new List<ILossTerm>
        {
            new CrossEntropyTerm(setup.LabelSmoothing),
            new LogitKdTerm(setup.Temperature, kdWeight),
        };
        var weight = (double fallback) => o.Double("weight", fallback);
        switch (method)
        {
            case "kd":
                break;
            case "dkd":
                if (setup.SoftTargets)
                {
                    throw new ArgumentException("--distill-method dkd splits the KL at each sample's true class, so it needs integer labels; Mixup/CutMix give soft targets: pass --mixup 0 --cutmix 0.");
                }
                terms.Add(new DkdTerm(o.Double("alpha", 1.0), o.Double("beta", 8.0), o.Double("temperature", 4.0), o.Int("warmup", 20), weight(1.0)));
                break;
            case "dist":
                terms.Add(new DistTerm(o.Double("beta", 1.0), o.Double("gamma", 1.0), o.Double("tau", 1.0), weight(1.0)));
                break;
            case "fitnet":
                {
                    var (s, t) = Single(setup, method);
                    terms.Add(new FitNetTerm(s, t, StudentShape(setup, s, method), TeacherShape(setup, t, method), weight(100.0)));
                    break;
                }
            case "at":
                {
                    var stages = setup.Taps.Student.Zip(setup.Taps.Teacher).ToList();
                    if (stages.Count == 0)
                    {
                        throw new ArgumentException("--distill-method at needs stages to tap; ResolveTaps gives them.");
                    }
                    foreach (var (s, t) in stages)
                    {
                        AttentionTransferTerm.CheckPair(StudentShape(setup, s, method), TeacherShape(setup, t, method), "at");
                    }
                    terms.Add(new AttentionTransferTerm(stages, o.Double("p", 2.0), weight(1000.0)));
                    break;
                }
            case "rkd":
                {
                    var (s, t) = Single(setup, method);
                    RequireBatchShapes(setup, s, t, method);
                    terms.Add(new RkdTerm(s, t, o.Double("distance", 25.0), o.Double("angle", 50.0), o.Bool("squared", false), o.Double("eps", 1e-12), weight(1.0)));
                    break;
                }
            case "pkt":
                {
                    var (s, t) = Single(setup, method);
                    RequireBatchShapes(setup, s, t, method);
                    terms.Add(new PktTerm(s, t, o.Double("eps", 1e-7), weight(30000.0)));
                    break;
                }
            case "crd":
                {
                    var (s, t) = Single(setup, method);
                    if (setup.DataCount <= 0)
                    {
                        throw new ArgumentException("--distill-method crd keeps one memory row per training sample, so it needs the training set's size.");
                    }
                    terms.Add(new CrdTerm(Width(StudentShape(setup, s, method)), Width(TeacherShape(setup, t, method)), setup.DataCount,
                        o.Int("feat_dim", 128), o.Int("k", 16384), o.Double("temperature", 0.07), o.Double("momentum", 0.5), weight(0.8), s, t));
                    break;
                }
            case "srd":
                {
                    var (s, t) = Single(setup, method);
                    var sShape = StudentShape(setup, s, method);
                    var tShape = TeacherShape(setup, t, method);
                    if (sShape.Length is < 2 or > 4 || tShape.Length is < 2 or > 4)
                    {
                        throw new ArgumentException($"--distill-method srd pools vectors, tokens or maps, but the student gives {MethodInputs.Shape(sShape)} and the teacher {MethodInputs.Shape(tShape)}.");
                    }
                    var channels = (long[] shape) => shape.Length == 4 ? shape[1] : shape[^1];
                    terms.Add(new SrdTerm(channels(sShape), channels(tShape), weight(1.0), o.Double("bn_eps", 0.0), o.Double("log_eps", 1e-5), s, t));
                    break;
                }
        }
        return terms;
    }

    /// <summary>What a method term reads, for the run's start banner (null for the cross-entropy and logit KD):
    /// e.g. <c>fitnet: blocks.3 -> layer2 (ConvTranspose2d regressor)</c>.</summary>
    public static string? Describe(ILossTerm term) => term switch
    {
        FitNetTerm f => $"{f.Name}: {f.StudentFeature} -> {f.TeacherFeature} ({f.Regressor.StudentShape.Count switch { 4 => "conv", _ => "linear" }} regressor {MethodInputs.Shape(f.Regressor.StudentShape.Skip(1))} -> {MethodInputs.Shape(f.Regressor.TeacherShape.Skip(1))})",
        AttentionTransferTerm a => $"{a.Name}: {string.Join(", ", a.Stages.Select(st => $"{st.Student} -> {st.Teacher}"))} (p {a.P})",
        RkdTerm r => $"{r.Name}: {r.StudentFeature} -> {r.TeacherFeature}",
        PktTerm k => $"{k.Name}: {k.StudentFeature} -> {k.TeacherFeature}",
        CrdTerm c => $"{c.Name}: {c.StudentFeature} -> {c.TeacherFeature}, {c.Memory.Negatives} negatives from a memory of {c.Memory.DataCount} samples",
        SrdTerm d => $"{d.Name}: {d.StudentFeature} -> {d.TeacherFeature} (linear {d.Projector.in_features} -> {d.Projector.out_features})",
        DkdTerm k => $"{k.Name}: alpha {k.Alpha}, beta {k.Beta}, T {k.Temperature}, warm-up {k.WarmupEpochs} epochs",
        DistTerm k => $"{k.Name}: beta {k.Beta}, gamma {k.Gamma}, tau {k.Tau}",
        _ => null,
    };

    private static string RequireKnown(string method)
    {
        var m = (method ?? "").Trim().ToLowerInvariant();
        return Keys.ContainsKey(m) ? m : throw new ArgumentException($"--distill-method {method} is unknown; use one of {string.Join(", ", Names)}.");
    }

    private static void RequireLogits(string method, MethodSetup setup, double kdWeight)
    {
        var why = method is "dkd" or "dist" ? $"--distill-method {method} distils the teacher's logits" : $"logit KD (weight {kdWeight})";
        if (!setup.TeacherShapes.TryGetValue(FeatureNames.Logits, out var teacher))
        {
            var fix = method is "dkd" or "dist" ? "use a teacher with a classifier, or a method on features (fitnet, at, rkd, pkt, crd)"
                : WithLogitKd.Contains(method) ? "pass --gamma 0" : "drop the kd option";
            throw new ArgumentException($"{why}, but the teacher gives features only (no classifier); {fix}.");
        }
        var student = setup.StudentShapes.GetValueOrDefault(FeatureNames.DistillationLogits) ?? setup.StudentShapes.GetValueOrDefault(FeatureNames.Logits);
        if (student is null || student[^1] != teacher[^1])
        {
            throw new ArgumentException($"{why}, but the teacher has {teacher[^1]} classes and the student {(student is null ? "no logits" : $"{student[^1]} classes")}; they must be the same classes.");
        }
    }

    private static (string Student, string Teacher) Single(MethodSetup setup, string method) =>
        (setup.Taps.Student.Count > 0 ? setup.Taps.Student[0] : FeatureNames.Pooled, setup.Taps.Teacher.Count > 0 ? setup.Taps.Teacher[0] : FeatureNames.Pooled);

    private static long[] StudentShape(MethodSetup setup, string name, string method) => setup.StudentShapes.TryGetValue(name, out var s)
        ? s
        : throw new ArgumentException($"--distill-method {method} needs the student feature '{name}', but the student gives [{string.Join(", ", setup.StudentShapes.Keys)}].");

    private static long[] TeacherShape(MethodSetup setup, string name, string method) => setup.TeacherShapes.TryGetValue(name, out var t)
        ? t
        : throw new ArgumentException($"--distill-method {method} needs the teacher feature '{name}', but the teacher gives [{string.Join(", ", setup.TeacherShapes.Keys)}].");

    private static void RequireBatchShapes(MethodSetup setup, string s, string t, string method)
    {
        StudentShape(setup, s, method);
        TeacherShape(setup, t, method);
    }

    private static long Width(long[] shape) => shape.Skip(1).Aggregate(1L, (a, b) => a * b);
}
