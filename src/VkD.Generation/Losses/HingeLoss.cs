using static TorchSharp.torch;

namespace VkD.Generation.Losses;

/// <summary>The hinge GAN loss BigGAN trains with (<c>losses.loss_hinge_dis</c> / <c>loss_hinge_gen</c>).</summary>
public static class HingeLoss
{
    /// <summary>D's two terms: <c>mean(relu(1 − D(real)))</c> and <c>mean(relu(1 + D(fake)))</c>.</summary>
    public static (Tensor Real, Tensor Fake) Discriminator(Tensor realScores, Tensor fakeScores)
    {
        ArgumentNullException.ThrowIfNull(realScores);
        ArgumentNullException.ThrowIfNull(fakeScores);
        using var scope = NewDisposeScope();
        var real = nn.functional.relu(1.0 - realScores).mean();
        var fake = nn.functional.relu(1.0 + fakeScores).mean();
        return (real.MoveToOuterDisposeScope(), fake.MoveToOuterDisposeScope());
    }

    /// <summary>G's term: <c>−mean(D(fake))</c>.</summary>
    public static Tensor Generator(Tensor fakeScores)
    {
        ArgumentNullException.ThrowIfNull(fakeScores);
        return -fakeScores.mean();
    }
}
