using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Models.Layers;

/// <summary>The initialisations timm and torchvision apply after construction, written once.</summary>
internal static class WeightInit
{
    /// <summary>timm's <c>trunc_normal_(t, std)</c>: normal truncated at the absolute bounds [-2, 2], drawn by
    /// inverse CDF as PyTorch does (TorchSharp 0.107's <c>nn.init.trunc_normal_</c> returns near-zero values).</summary>
    public static void TruncNormal(Tensor t, double std, double a = -2.0, double b = 2.0)
    {
        using var noGrad = torch.no_grad();
        static double NormCdf(double x) => (1.0 + Erf(x / Math.Sqrt(2.0))) / 2.0;
        var lower = NormCdf(a / std);
        var upper = NormCdf(b / std);
        t.uniform_(2 * lower - 1, 2 * upper - 1);
        t.erfinv_();
        t.mul_(std * Math.Sqrt(2.0));
        t.clamp_(a, b);
    }

    /// <summary>Error function, evaluated by libtorch in double precision.</summary>
    private static double Erf(double x)
    {
        using var v = torch.tensor(x, float64);
        using var e = v.erf();
        return e.item<double>();
    }

    /// <summary>Normal with the given standard deviation.</summary>
    public static void Normal(Tensor t, double std)
    {
        using var noGrad = torch.no_grad();
        nn.init.normal_(t, 0.0, std);
    }

    /// <summary>Zeros.</summary>
    public static void Zeros(Tensor t)
    {
        using var noGrad = torch.no_grad();
        t.zero_();
    }

    /// <summary>Ones.</summary>
    public static void Ones(Tensor t)
    {
        using var noGrad = torch.no_grad();
        t.fill_(1.0);
    }

    /// <summary>timm's ViT <c>_init_weights</c> for a Linear: truncated normal (std 0.02) weight, zero bias.</summary>
    public static void VitLinear(Linear linear)
    {
        TruncNormal(linear.weight!, 0.02);
        if (linear.bias is not null)
        {
            Zeros(linear.bias);
        }
    }

    /// <summary>torchvision's <c>kaiming_normal_(mode="fan_out", nonlinearity="relu")</c> for a conv weight.</summary>
    public static void KaimingNormalFanOut(Conv2d conv)
    {
        using var noGrad = torch.no_grad();
        nn.init.kaiming_normal_(conv.weight!, 0, nn.init.FanInOut.FanOut, nn.init.NonlinearityType.ReLU);
    }

    /// <summary>PyTorch's default <c>kaiming_normal_</c> (fan_in, gain √2), used by the VkD conv stem.</summary>
    public static void KaimingNormalFanIn(Conv2d conv)
    {
        using var noGrad = torch.no_grad();
        nn.init.kaiming_normal_(conv.weight!, 0, nn.init.FanInOut.FanIn, nn.init.NonlinearityType.LeakyReLU);
    }
}
