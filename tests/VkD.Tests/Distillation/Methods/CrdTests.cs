using VkD.Distillation.Distiller;
using VkD.Distillation.Methods;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation.Methods;

/// <summary>CRD (embedding heads, memory bank, NCE) against RepDistiller's formulas restated in
/// tools/fixtures/make_method_fixtures.py.</summary>
public class CrdTests
{
    private static CrdTerm FromFixture(Fixture f)
    {
        var term = new CrdTerm(8, 10, dataCount: 20, featureDim: 4, negatives: 6);
        var state = Parity.StateWithPrefix(f, "state.")
            .ToDictionary(kv => kv.Key.StartsWith("embed", StringComparison.Ordinal) ? kv.Key : "contrast." + kv.Key, kv => kv.Value);
        Assert.Equal(state.Keys.Order(), term.state_dict().Keys.Order());
        term.load_state_dict(state, strict: true);
        return term;
    }

    [Fact]
    public void Crd_loss_gradients_and_memory_updates_match_the_reference_over_two_steps()
    {
        using var f = Fixture.Load("methods", "crd");
        using var term = FromFixture(f);
        for (var step = 0; step < 2; step++)
        {
            using var scope = NewDisposeScope();
            var p = $"step{step}.";
            foreach (var param in term.parameters())
            {
                param.grad = null;
            }
            var fs = f[p + "f_s"].clone().requires_grad_(true);
            var loss = term.Loss(fs, f[p + "f_t"], f[p + "idx"], f[p + "contrast_idx"]);
            loss.backward();
            Parity.Close(loss, f[p + "loss"], 1e-5, $"crd loss, step {step}");
            Parity.Close(fs.grad!, f[p + "grad_f_s"], 1e-5, $"d crd / d student, step {step}");
            foreach (var (name, param) in term.named_parameters())
            {
                Parity.Close(param.grad!, f[$"{p}grad_{name}"], 1e-5, $"d crd / d {name}, step {step}");
            }
            // The normalisation constants are fixed at the first step; the positives' rows moved with momentum 0.5.
            Parity.Close(term.Memory.Params, f[p + "after.params"], 1e-5, $"params (K, T, Z_v1, Z_v2, momentum), step {step}");
            Parity.Close(term.Memory.StudentMemory, f[p + "after.memory_v1"], 1e-6, $"student memory, step {step}");
            Parity.Close(term.Memory.TeacherMemory, f[p + "after.memory_v2"], 1e-6, $"teacher memory, step {step}");
        }
    }

    [Fact]
    public void Memory_update_is_the_normalised_momentum_average_of_the_positive_rows_only()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var memory = new ContrastMemory(featureDim: 4, dataCount: 10, negatives: 3, momentum: 0.5);
        var before = memory.StudentMemory.clone();
        var v = nn.functional.normalize(randn(2, 4), dim: 1);
        var idx = tensor(new long[] { 7, 2 });
        memory.Score(v, v, idx, memory.SampleContrastIndices(idx));
        var expected = before.index_select(0, idx) * 0.5 + v * 0.5;
        expected = expected / expected.norm(1, keepdim: true);
        Parity.Close(memory.StudentMemory.index_select(0, idx), expected, 1e-6, "updated rows");
        var others = tensor(Enumerable.Range(0, 10).Where(i => i is not 7 and not 2).Select(i => (long)i).ToArray());
        Parity.Close(memory.StudentMemory.index_select(0, others), before.index_select(0, others), 0, "rows of other samples");
    }

    [Fact]
    public void Contrast_indices_put_the_positive_first_and_draw_negatives_from_the_whole_bank()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var memory = new ContrastMemory(featureDim: 4, dataCount: 12, negatives: 500);
        var idx = tensor(new long[] { 3, 11, 0 });
        var contrast = memory.SampleContrastIndices(idx);
        Assert.Equal([3L, 501], contrast.shape);
        Parity.Close(contrast.select(1, 0), idx, 0, "positives in column 0");
        var negatives = contrast.narrow(1, 1, 500);
        Assert.Equal(0, negatives.min().item<long>());
        Assert.Equal(11, negatives.max().item<long>());
    }

    [Fact]
    public void Crd_uses_the_indices_of_the_announced_step_once_and_refuses_a_step_without_them()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var term = new CrdTerm(8, 10, dataCount: 20, featureDim: 4, negatives: 6);
        var inputs = new LossInputs(new FeatureSet("student").Add(FeatureNames.Pooled, randn(3, 8)),
            new FeatureSet("teacher").Add(FeatureNames.Pooled, randn(3, 10)), null);
        var e = Assert.Throws<InvalidOperationException>(() => term.Compute(inputs));
        Assert.Contains("dataset index", e.Message);
        term.BeginStep(new DistillationStep(0, [1, 5, 19]));
        Assert.True(double.IsFinite(term.Compute(inputs).item<float>()));
        Assert.Throws<InvalidOperationException>(() => term.Compute(inputs));
        term.BeginStep(new DistillationStep(0, [1, 5, 20]));
        Assert.Contains("outside the memory bank of 20", Assert.Throws<ArgumentException>(() => term.Compute(inputs)).Message);
        term.BeginStep(new DistillationStep(0, [1, 5]));
        Assert.Contains("2 sample indices for a batch of 3", Assert.Throws<ArgumentException>(() => term.Compute(inputs)).Message);
    }

    [Fact]
    public void The_distiller_registers_crd_heads_and_memory_under_the_term_name_for_optimiser_and_checkpoint()
    {
        using var distiller = new FeatureDistiller([new CrossEntropyTerm(), new CrdTerm(8, 10, dataCount: 20, featureDim: 4, negatives: 6)]);
        Assert.Equal(
            ["crd.contrast.memory_v1", "crd.contrast.memory_v2", "crd.contrast.params", "crd.embed_s.linear.bias", "crd.embed_s.linear.weight",
                "crd.embed_t.linear.bias", "crd.embed_t.linear.weight"],
            distiller.state_dict().Keys.Order());
        Assert.Equal(4, distiller.parameters().Count());
    }
}
