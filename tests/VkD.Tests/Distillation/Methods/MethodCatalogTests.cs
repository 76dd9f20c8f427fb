using VkD.Distillation.Distiller;
using VkD.Distillation.Methods;
using VkD.Models;

namespace VkD.Tests.Distillation.Methods;

/// <summary>The method catalogue: terms and defaults per method, default taps of the zoo, and pairings refused before any step.</summary>
public class MethodCatalogTests
{
    private static readonly Dictionary<string, long[]> CnnStudent = new()
    {
        [FeatureNames.Logits] = [2, 10],
        [FeatureNames.Pooled] = [2, 64],
        ["layer1"] = [2, 16, 28, 28],
        ["layer2"] = [2, 32, 14, 14],
        ["layer3"] = [2, 64, 7, 7],
    };

    private static MethodSetup Setup(string method, IReadOnlyDictionary<string, long[]> teacher, MethodTaps? taps = null, string options = "", bool soft = false) => new()
    {
        Method = method,
        Options = DistillationMethods.Validate(method, options),
        Taps = taps ?? MethodTaps.None,
        StudentShapes = CnnStudent,
        TeacherShapes = teacher,
        DataCount = 100,
        SoftTargets = soft,
    };

    private static Dictionary<string, long[]> FeatureOnly() => CnnStudent.Where(kv => kv.Key != FeatureNames.Logits).ToDictionary();

    [Theory]
    [InlineData("kd", "ce,kd", 0)]
    [InlineData("dkd", "ce,kd,dkd", 1.0)]
    [InlineData("dist", "ce,kd,dist", 1.0)]
    [InlineData("fitnet", "ce,kd,fitnet", 100.0)]
    [InlineData("at", "ce,kd,at", 1000.0)]
    [InlineData("rkd", "ce,kd,rkd", 1.0)]
    [InlineData("pkt", "ce,kd,pkt", 30000.0)]
    [InlineData("crd", "ce,kd,crd", 0.8)]
    [InlineData("srd", "ce,kd,srd", 1.0)]
    public void Every_method_builds_ce_kd_and_its_term_at_its_published_weight(string method, string names, double weight)
    {
        var taps = method switch
        {
            "fitnet" => new MethodTaps(["layer2"], ["layer2"]),
            "at" => new MethodTaps(["layer1", "layer2", "layer3"], ["layer1", "layer2", "layer3"]),
            _ => MethodTaps.None,
        };
        var terms = DistillationMethods.Create(Setup(method, CnnStudent, taps));
        try
        {
            Assert.Equal(names, string.Join(",", terms.Select(t => t.Name)));
            if (method != "kd")
            {
                Assert.Equal(weight, terms[^1].Weight);
            }
            // Logit KD is on only where the original has it.
            Assert.Equal(method is "kd" or "srd" ? 1.0 : 0.0, terms[1].Weight);
        }
        finally
        {
            foreach (var t in terms.OfType<IDisposable>())
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Method_options_override_the_defaults_and_unknown_keys_or_values_are_refused()
    {
        var dkd = (DkdTerm)DistillationMethods.Create(Setup("dkd", CnnStudent, options: "beta=2,warmup=5,kd=0.5"))[^1];
        Assert.Equal((1.0, 2.0, 4.0, 5), (dkd.Alpha, dkd.Beta, dkd.Temperature, dkd.WarmupEpochs));
        Assert.Equal(0.5, DistillationMethods.Create(Setup("dkd", CnnStudent, options: "kd=0.5"))[1].Weight);
        var e = Assert.Throws<ArgumentException>(() => DistillationMethods.Validate("at", "beta=3"));
        Assert.Contains("not an option of --distill-method at; its options are weight, kd, p", e.Message);
        Assert.Contains("expected a finite number", Assert.Throws<ArgumentException>(() => DistillationMethods.Validate("rkd", "angle=big")).Message);
        Assert.Contains("is unknown", Assert.Throws<ArgumentException>(() => DistillationMethods.Validate("fitnets", "")).Message);
        Assert.Contains("not key=value", Assert.Throws<ArgumentException>(() => DistillationMethods.Validate("pkt", "eps")).Message);
    }

    [Theory]
    [InlineData("dkd", "", "distils the teacher's logits, but the teacher gives features only")]
    [InlineData("dist", "", "distils the teacher's logits, but the teacher gives features only")]
    [InlineData("rkd", "kd=1", "logit KD (weight 1), but the teacher gives features only")]
    public void A_method_that_needs_logits_fails_with_a_feature_only_teacher(string method, string options, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => DistillationMethods.Create(Setup(method, FeatureOnly(), options: options)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Methods_on_features_work_with_a_feature_only_teacher()
    {
        foreach (var method in new[] { "rkd", "pkt", "crd" })
        {
            var terms = DistillationMethods.Create(Setup(method, FeatureOnly()));
            Assert.Equal(3, terms.Count);
            foreach (var t in terms.OfType<IDisposable>())
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Pairings_that_cannot_work_fail_before_any_step_with_what_is_wrong()
    {
        var fewerClasses = new Dictionary<string, long[]>(CnnStudent) { [FeatureNames.Logits] = [2, 100] };
        Assert.Contains("the teacher has 100 classes and the student 10 classes",
            Assert.Throws<ArgumentException>(() => DistillationMethods.Create(Setup("dist", fewerClasses))).Message);
        Assert.Contains("--mixup 0 --cutmix 0", Assert.Throws<ArgumentException>(() => DistillationMethods.Create(Setup("dkd", CnnStudent, soft: true))).Message);
        // FitNets: a student map smaller than the teacher's and not half of it has no regressor.
        var big = new Dictionary<string, long[]>(CnnStudent) { ["layer2"] = [2, 32, 20, 20] };
        Assert.Contains("no convolutional regressor",
            Assert.Throws<ArgumentException>(() => DistillationMethods.Create(Setup("fitnet", big, new MethodTaps(["layer2"], ["layer2"])))).Message);
        // Attention transfer: tokens of different counts.
        var tokens = new Dictionary<string, long[]>(CnnStudent) { ["blocks.5"] = [2, 65, 128] };
        var student = new Dictionary<string, long[]>(CnnStudent) { ["blocks.5"] = [2, 50, 128] };
        var setup = new MethodSetup { Method = "at", Taps = new MethodTaps(["blocks.5"], ["blocks.5"]), StudentShapes = student, TeacherShapes = tokens };
        Assert.Contains("cannot be paired", Assert.Throws<ArgumentException>(() => DistillationMethods.Create(setup)).Message);
        // A tap the teacher does not give.
        Assert.Contains("needs the teacher feature 'layer9'",
            Assert.Throws<ArgumentException>(() => DistillationMethods.Create(Setup("at", CnnStudent, new MethodTaps(["layer1"], ["layer9"])))).Message);
    }

    [Fact]
    public void Default_taps_are_the_stages_of_the_zoo_cifar_resnets_and_evenly_spaced_vit_blocks()
    {
        var options = new ModelOptions(10, 28, 0, 1);
        using var resnet8 = ModelRegistry.Create("resnet8", options);
        using var resnet32 = ModelRegistry.Create("resnet32", options);
        using var vit = ModelRegistry.Create("deit_nano_patch4_32", options);
        Assert.Equal(["layer1", "layer2", "layer3"], DefaultTaps.Stages(resnet8));
        Assert.Equal(["blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5"], DefaultTaps.Stages(vit));

        var at = DistillationMethods.ResolveTaps("at", resnet8, resnet32, [], []);
        Assert.Equal(["layer1", "layer2", "layer3"], at.Student);
        Assert.Equal(["layer1", "layer2", "layer3"], at.Teacher);
        var fitnet = DistillationMethods.ResolveTaps("fitnet", resnet8, resnet32, [], []);
        Assert.Equal(["layer2"], fitnet.Student);
        Assert.Equal(["layer2"], fitnet.Teacher);
        var vitAt = DistillationMethods.ResolveTaps("at", vit, resnet32, [], []);
        Assert.Equal(["blocks.1", "blocks.3", "blocks.5"], vitAt.Student);
        Assert.Equal(["blocks.3"], DistillationMethods.ResolveTaps("fitnet", vit, resnet32, [], []).Student);
        Assert.Equal(MethodTaps.None, DistillationMethods.ResolveTaps("rkd", resnet8, resnet32, [], []));
        Assert.Equal(["layer3"], DistillationMethods.ResolveTaps("crd", resnet8, resnet32, ["layer3"], []).Student);
    }

    [Fact]
    public void Taps_that_cannot_be_resolved_are_refused_with_the_flag_to_pass()
    {
        var options = new ModelOptions(10, 28, 0, 1);
        using var resnet8 = ModelRegistry.Create("resnet8", options);
        using var resnet32 = ModelRegistry.Create("resnet32", options);
        Assert.Contains("an ONNX teacher does not give",
            Assert.Throws<ArgumentException>(() => DistillationMethods.ResolveTaps("at", resnet8, null, [], [])).Message);
        Assert.Contains("FitNets distils one hint layer",
            Assert.Throws<ArgumentException>(() => DistillationMethods.ResolveTaps("fitnet", resnet8, resnet32, ["layer1", "layer2"], ["layer1", "layer2"])).Message);
        Assert.Contains("give as many of each",
            Assert.Throws<ArgumentException>(() => DistillationMethods.ResolveTaps("at", resnet8, resnet32, ["layer1", "layer2"], ["layer1"])).Message);
        Assert.Contains("reads no taps",
            Assert.Throws<ArgumentException>(() => DistillationMethods.ResolveTaps("dkd", resnet8, resnet32, ["layer1"], [])).Message);
    }

    [Fact]
    public void Evenly_spaced_stages_end_at_the_last()
    {
        string[] six = ["b0", "b1", "b2", "b3", "b4", "b5"];
        Assert.Equal(["b1", "b3", "b5"], DefaultTaps.Pick(six, 3));
        Assert.Equal(["b5"], DefaultTaps.Pick(six, 1));
        Assert.Equal(six, DefaultTaps.Pick(six, 6));
    }
}
