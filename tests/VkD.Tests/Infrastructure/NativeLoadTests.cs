using TorchSharp;

namespace VkD.Tests.Infrastructure;

public class NativeLoadTests
{
    [Fact]
    public void Libtorch_loads_and_computes_on_this_machine()
    {
        // Fails with a DllNotFound/TypeInitialization error when the GLIBCXX fix in build/ did not take.
        using var a = torch.ones(2, 3);
        using var b = a.sum();
        Assert.Equal(6f, b.item<float>());
    }
}
