using TorchSharp;
using TorchSharp.Modules;
using VkD.Distillation.Projectors;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Distillation;

/// <summary>The released code's collapse (reproduced in compatibility mode) and its absence by default.</summary>
public class CollapseAndTrainingTests
{
    private static Tensor CollapseLoss(OrthogonalProjector proj, Fixture f) =>
        nn.functional.smooth_l1_loss(proj.forward(f["x"]), nn.functional.layer_norm(f["t"], new long[] { 24 }));

    [Fact]
    public void Compatibility_mode_collapses_W_to_zero_after_one_AdamW_step_exactly_like_PyTorch()
    {
        using var f = Fixture.Load("core", "collapse_householder");
        using var proj = new OrthogonalProjector(8, 24, new OrthogonalProjectorOptions(ReleasedCompatibility: true));
        Assert.Equal(OrthogonalMap.Householder, proj.Map);
        Assert.False(proj.ExemptFromWeightDecay);
        proj.load_state_dict(Parity.StateWithPrefix(f, "state."), strict: true);
        using var scope = NewDisposeScope();
        var opt = torch.optim.AdamW(proj.parameters(), lr: 5e-4, weight_decay: 0.05);
        var loss = CollapseLoss(proj, f);
        Parity.Close(loss, f["loss0"], 1e-6, "loss before the step");
        loss.backward();
        Parity.Close(proj.Original.grad!, f["grad_original"], 1e-6, "gradient before the step");
        opt.step();
        Parity.Close(proj.Original, f["original_after"], 1e-7, "original after one AdamW step");
        Assert.Equal(0.0, f["weight_after"].abs().max().item<float>());
        Assert.Equal(0.0, proj.ComputeWeight().abs().max().item<float>());
        // From here on the feature loss is constant and sends no gradient.
        opt.zero_grad();
        CollapseLoss(proj, f).backward();
        Assert.Equal(0.0, proj.Original.grad!.abs().max().item<float>());
    }

    [Fact]
    public void Default_mode_keeps_W_orthonormal_even_when_the_projector_is_put_in_weight_decay()
    {
        using var f = Fixture.Load("core", "collapse_householder");
        using var proj = new OrthogonalProjector(8, 24);
        Assert.True(proj.ExemptFromWeightDecay);
        proj.load_state_dict(Parity.StateWithPrefix(f, "state."), strict: true);
        using var scope = NewDisposeScope();
        var opt = torch.optim.AdamW(proj.parameters(), lr: 5e-4, weight_decay: 0.05);
        CollapseLoss(proj, f).backward();
        opt.step();
        var w = proj.ComputeWeight();
        Assert.True(w.abs().max().item<float>() > 0.1f);
        Assert.True(Parity.OrthogonalityError(w) < 1e-5);
    }

    [Theory]
    [InlineData(OrthogonalMap.Householder, 8, 24)]
    [InlineData(OrthogonalMap.MatrixExp, 8, 24)]
    [InlineData(OrthogonalMap.Cayley, 8, 24)]
    [InlineData(OrthogonalMap.MatrixExp, 8, 8)]
    public void W_stays_orthonormal_after_200_AdamW_steps_with_weight_decay_on_everything_else(OrthogonalMap map, int ds, int dt)
    {
        torch.manual_seed(5);
        using var proj = new OrthogonalProjector(ds, dt, new OrthogonalProjectorOptions(map));
        using var student = nn.Linear(6, ds);
        using var scope = NewDisposeScope();
        var x = randn(32, 6);
        var target = nn.functional.layer_norm(randn(32, dt) + x.sum(1, keepdim: true), new long[] { dt });
        var projectorParams = proj.parameters().ToList();
        var groups = new List<AdamW.ParamGroup>
        {
            new(student.parameters(), lr: 1e-2, weight_decay: 0.05),
            new(projectorParams, lr: 1e-2, weight_decay: proj.ExemptFromWeightDecay ? 0.0 : 0.05),
        };
        var opt = torch.optim.AdamW(groups);
        var w0 = proj.ComputeWeight().detach().clone();
        for (var step = 0; step < 200; step++)
        {
            using var stepScope = NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.smooth_l1_loss(proj.forward(student.forward(x)), target);
            loss.backward();
            opt.step();
        }
        var w = proj.ComputeWeight();
        Assert.True(Parity.MaxAbsDiff(w, w0) > 0.05, "the projector did not train, so the check below would be vacuous");
        var error = Parity.OrthogonalityError(w);
        Assert.True(error < 1e-5, $"max |W^T W - I| = {error:E3}");
    }
}
