using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Training.Tasks;

/// <summary>The one device setting of a run (<c>--device cpu|cuda[:N]</c>): every module and tensor goes through it.</summary>
public static class TrainingDevice
{
    /// <summary>Parses <paramref name="spec"/> and checks the device exists in this process.</summary>
    /// <exception cref="ArgumentException">Unknown spelling, or CUDA requested where the loaded libtorch has none.</exception>
    public static Device Resolve(string? spec)
    {
        var s = string.IsNullOrWhiteSpace(spec) ? "cpu" : spec.Trim().ToLowerInvariant();
        if (s == "cpu")
        {
            return CPU;
        }
        if (s != "cuda" && !s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            throw new ArgumentException($"--device {spec}: use cpu, cuda or cuda:N.");
        }
        var index = 0;
        if (s.Length > 5 && (!int.TryParse(s.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out index)))
        {
            throw new ArgumentException($"--device {spec}: the CUDA device index must be a non-negative integer (cuda:0).");
        }
        if (!cuda.is_available())
        {
            throw new ArgumentException($"--device {spec}: CUDA is not available in this process. The libtorch that is loaded is CPU-only " +
                "(the TorchSharp-cpu package); a CUDA build needs the TorchSharp-cuda-linux package and an NVIDIA driver. Use --device cpu.");
        }
        var count = cuda.device_count();
        if (index >= count)
        {
            throw new ArgumentException($"--device {spec}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1}).");
        }
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary><paramref name="t"/> on <paramref name="device"/>; the same tensor when it is already there, so CPU runs
    /// make no copies.</summary>
    public static Tensor On(this Tensor t, Device device)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(device);
        return t.device_type == device.type && (device.type == DeviceType.CPU || t.device_index == device.index) ? t : t.to(device);
    }
}
