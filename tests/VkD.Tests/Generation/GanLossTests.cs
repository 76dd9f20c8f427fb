using VkD.Generation.Losses;
using VkD.Tests.Distillation;
using VkD.Tests.Infrastructure;
using static TorchSharp.torch;

namespace VkD.Tests.Generation;

/// <summary>The hinge losses and LeCam regularisation against the PyTorch restatement of BigGAN's losses.py and
/// lecam-gan's (values, gradients, the EMA sequence across the start iteration).</summary>
public sealed class GanLossTests
{
    private const double Tol = 1e-5;

    [Fact]
    public void Hinge_losses_match_the_reference_values_and_gradients()
    {
        using var f = Fixture.Load("generation", "losses");
        using var scope = NewDisposeScope();
        var real = f["d_real"].clone().requires_grad_(true);
        var fake = f["d_fake"].clone().requires_grad_(true);
        var (lr, lf) = HingeLoss.Discriminator(real, fake);
        (lr + lf).backward();
        Parity.Close(lr, f["hinge.real"], Tol, "D real term");
        Parity.Close(lf, f["hinge.fake"], Tol, "D fake term");
        Parity.Close(real.grad!, f["hinge.grad_real"], Tol, "d/dD(real)");
        Parity.Close(fake.grad!, f["hinge.grad_fake"], Tol, "d/dD(fake)");
        var fake2 = f["d_fake"].clone().requires_grad_(true);
        var g = HingeLoss.Generator(fake2);
        g.backward();
        Parity.Close(g, f["hinge_g"], Tol, "G term");
        Parity.Close(fake2.grad!, f["hinge_g.grad_fake"], Tol, "d/dD(fake) of G");
    }

    [Fact]
    public void LeCam_penalty_and_its_output_EMAs_follow_the_reference_across_the_start_iteration()
    {
        using var f = Fixture.Load("generation", "losses");
        using var lecam = new LeCamRegularizer(weight: 0.3, decay: 0.9, startIteration: 2);
        var itrs = f["lecam.itr"];
        for (var k = 0; k < 4; k++)
        {
            using var scope = NewDisposeScope();
            var itr = itrs[k].item<long>();
            var real = f["lecam.seq_real"][k].clone().requires_grad_(true);
            var fake = f["lecam.seq_fake"][k].clone().requires_grad_(true);
            lecam.Update(real, fake, itr);
            Assert.Equal(f["lecam.ema_real"][k].item<double>(), lecam.EmaReal, 12);
            Assert.Equal(f["lecam.ema_fake"][k].item<double>(), lecam.EmaFake, 12);
            var penalty = lecam.Penalty(real, fake);
            penalty.backward();
            Parity.Close(penalty, f["lecam.reg"][k], Tol, $"LeCam penalty at step {k}");
            Parity.Close(real.grad!, f["lecam.grad_real"][k], Tol, $"d/dD(real) at step {k}");
            Parity.Close(fake.grad!, f["lecam.grad_fake"][k], Tol, $"d/dD(fake) at step {k}");
        }
        // The penalty applies only after the start iteration, as train_fns' `itr > ema_losses.start_itr`.
        Assert.False(lecam.IsActive(2));
        Assert.True(lecam.IsActive(3));
        Assert.False(new LeCamRegularizer(weight: 0).IsActive(5000));
    }

    [Fact]
    public void LeCam_EMAs_are_checkpointed_buffers()
    {
        using var lecam = new LeCamRegularizer();
        lecam.Update(0.25, -0.5, 1);
        var state = lecam.state_dict();
        Assert.Equal(["ema_real", "ema_fake"], state.Keys);
        Assert.Equal(ScalarType.Float64, state["ema_real"].dtype);
        Assert.Equal(0.25, state["ema_real"].item<double>());
        Assert.Equal(-0.5, state["ema_fake"].item<double>());
    }
}
