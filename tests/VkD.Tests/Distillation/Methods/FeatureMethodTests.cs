using VkD.Distillation.Distiller;
using VkD.Distillation.Methods;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation.Methods;

/// <summary>FitNets, attention transfer, RKD, PKT and SRD against tools/fixtures/make_method_fixtures.py (PyTorch 1.13).</summary>
public class FeatureMethodTests
{
    private static LossInputs Inputs(params (string Name, Tensor Student, Tensor Teacher)[] features)
    {
        var s = new FeatureSet("student");
        var t = new FeatureSet("teacher");
        foreach (var (name, student, teacher) in features)
        {
            s.Add(name, student);
            t.Add(name, teacher);
        }
        return new LossInputs(s, t, null);
    }

    [Theory]
    [InlineData("same")]
    [InlineData("down")]
    [InlineData("up")]
    [InlineData("shrink")]
    [InlineData("tokens")]
    [InlineData("vector")]
    public void FitNets_regressor_and_hint_loss_match_the_reference_in_training_mode(string name)
    {
        using var f = Fixture.Load("methods", $"fitnet_{name}");
        using var scope = NewDisposeScope();
        using var term = new FitNetTerm("hint", "guided", f["f_s"].shape, f["f_t"].shape);
        term.Regressor.load_state_dict(Parity.StateWithPrefix(f, "state."), strict: true);
        term.train();
        var fs = f["f_s"].clone().requires_grad_(true);
        var loss = term.Compute(new LossInputs(new FeatureSet("student").Add("hint", fs), new FeatureSet("teacher").Add("guided", f["f_t"]), null));
        loss.backward();
        Parity.Close(loss, f["loss"], 1e-5, "fitnet mse");
        Parity.Close(fs.grad!, f["grad_f_s"], 1e-5, "d fitnet / d student hint");
        foreach (var (key, p) in term.Regressor.named_parameters())
        {
            Parity.Close(p.grad!, f[$"grad_{key}"], 1e-5, $"d fitnet / d {key}");
        }
        foreach (var (key, b) in term.Regressor.named_buffers().Where(b => b.name.Contains("running", StringComparison.Ordinal)))
        {
            Parity.Close(b, f[$"after.{key}"], 1e-5, $"{key} after the step");
        }
        Assert.Equal(Parity.StateWithPrefix(f, "state.").Keys.Order(), term.Regressor.state_dict().Keys.Order());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Attention_transfer_matches_the_reference_over_stages_of_different_sizes(int p)
    {
        using var f = Fixture.Load("methods", "at");
        using var scope = NewDisposeScope();
        var s = new[] { "s1", "s2", "s3" }.Select(k => f[k].clone().requires_grad_(true)).ToArray();
        var term = new AttentionTransferTerm([("a", "a"), ("b", "b"), ("c", "c")], p);
        var loss = term.Compute(Inputs(("a", s[0], f["t1"]), ("b", s[1], f["t2"]), ("c", s[2], f["t3"])));
        loss.backward();
        Parity.Close(loss, f[$"p{p}.loss"], 1e-5, "at");
        for (var i = 0; i < 3; i++)
        {
            Parity.Close(s[i].grad!, f[$"p{p}.grad_s{i + 1}"], 1e-5, $"d at / d stage {i + 1}");
        }
        Assert.Equal(1000.0, term.Weight);
    }

    [Fact]
    public void Attention_transfer_on_tokens_averages_the_embedding_and_refuses_different_token_counts()
    {
        using var f = Fixture.Load("methods", "at");
        using var scope = NewDisposeScope();
        var s = f["tok_s"].clone().requires_grad_(true);
        var loss = AttentionTransferTerm.StageLoss(s, f["tok_t"], 2);
        loss.backward();
        Parity.Close(loss, f["tokens.loss"], 1e-5, "at on tokens");
        Parity.Close(s.grad!, f["tokens.grad_tok_s"], 1e-5, "d at / d tokens");
        var e = Assert.Throws<ArgumentException>(() => AttentionTransferTerm.StageLoss(f["tok_s"], f["tok_t"].narrow(1, 0, 3), 2));
        Assert.Contains("same N", e.Message);
    }

    [Fact]
    public void Rkd_matches_the_reference_distance_and_angle_losses_and_gradient()
    {
        using var f = Fixture.Load("methods", "rkd");
        using var scope = NewDisposeScope();
        var s = f["f_s"].clone().requires_grad_(true);
        var loss = new RkdTerm().Compute(Inputs((FeatureNames.Pooled, s, f["f_t"])));
        loss.backward();
        Parity.Close(loss, f["loss"], 1e-5, "rkd");
        Parity.Close(s.grad!, f["grad_f_s"], 1e-5, "d rkd / d student");
        var (distance, angle) = RkdTerm.Parts(f["f_s"], f["f_t"]);
        Parity.Close(distance, f["distance"], 1e-5, "rkd distance");
        Parity.Close(angle, f["angle"], 1e-5, "rkd angle");

        var s2 = f["f_s"].clone().requires_grad_(true);
        var squared = new RkdTerm(distanceWeight: 1, angleWeight: 2, squared: true).Compute(Inputs((FeatureNames.Pooled, s2, f["f_t"])));
        squared.backward();
        Parity.Close(squared, f["squared_w1_2.loss"], 1e-5, "rkd squared");
        Parity.Close(s2.grad!, f["squared_w1_2.grad_f_s"], 1e-5, "d rkd squared / d student");
    }

    [Fact]
    public void Pkt_matches_the_reference_loss_and_gradient()
    {
        using var f = Fixture.Load("methods", "pkt");
        using var scope = NewDisposeScope();
        var s = f["f_s"].clone().requires_grad_(true);
        var loss = new PktTerm().Compute(Inputs((FeatureNames.Pooled, s, f["f_t"])));
        loss.backward();
        Parity.Close(loss, f["loss"], 1e-5, "pkt");
        Parity.RelativeClose(s.grad!, f["grad_f_s"], 1e-5, "d pkt / d student");
    }

    [Fact]
    public void Srd_matches_the_reference_correlation_loss_and_gradients()
    {
        using var f = Fixture.Load("methods", "srd");
        using var scope = NewDisposeScope();
        using var term = new SrdTerm(6, 9);
        term.Projector.load_state_dict(Parity.StateWithPrefix(f, "state."), strict: true);
        var s = f["z_s"].clone().requires_grad_(true);
        var loss = term.Compute(Inputs((FeatureNames.Pooled, s, f["z_t"])));
        loss.backward();
        Parity.Close(loss, f["loss"], 1e-5, "srd");
        Parity.Close(s.grad!, f["grad_z_s"], 1e-5, "d srd / d student");
        Parity.Close(term.Projector.weight!.grad!, f["grad_weight"], 1e-5, "d srd / d embed.weight");
        Parity.Close(term.Projector.bias!.grad!, f["grad_bias"], 1e-5, "d srd / d embed.bias");
        Assert.Equal(["embed.bias", "embed.weight"], term.state_dict().Keys.Order());
        using var eps = new SrdTerm(6, 9, bnEps: 1e-4);
        eps.Projector.load_state_dict(Parity.StateWithPrefix(f, "state."), strict: true);
        Parity.Close(eps.Loss(f["z_s"], f["z_t"]), f["bn_eps_1e-4.loss"], 1e-5, "srd with bn eps");
    }

    [Fact]
    public void Srd_pools_maps_and_tokens_before_its_projector()
    {
        using var scope = NewDisposeScope();
        var map = arange(2 * 3 * 4, dtype: ScalarType.Float32).reshape(2, 3, 2, 2);
        Parity.Close(SrdTerm.Pool(map), map.mean([2, 3]), 0, "map pooled over H, W");
        var tokens = arange(2 * 5 * 3, dtype: ScalarType.Float32).reshape(2, 5, 3);
        Parity.Close(SrdTerm.Pool(tokens), tokens.mean([1]), 0, "tokens pooled");
    }

    [Fact]
    public void Tokens_become_the_map_of_their_patches_after_the_class_and_distillation_tokens()
    {
        using var scope = NewDisposeScope();
        Assert.Equal((1, 7L), TokenGrid.Layout(50));
        Assert.Equal((2, 8L), TokenGrid.Layout(66));
        Assert.Equal((0, 4L), TokenGrid.Layout(16));
        Assert.Null(TokenGrid.Layout(7));
        var tokens = randn(2, 1 + 9, 4);
        var map = TokenGrid.ToMap(tokens, "t", "student");
        Assert.Equal([2L, 4, 3, 3], map.shape);
        // Patch (row 1, column 2) is token 1 + 1·3 + 2.
        Parity.Close(map[.., .., 1, 2], tokens[.., 1 + 5, ..], 0, "patch position");
        var e = Assert.Throws<ArgumentException>(() => TokenGrid.ToMap(randn(2, 7, 4), "at", "student"));
        Assert.Contains("not a square grid", e.Message);
    }
}
