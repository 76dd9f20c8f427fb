using static TorchSharp.torch;

namespace VkD.Training.Teachers;

/// <summary>The values of <c>--teacher-precision</c>.</summary>
public static class TeacherPrecisions
{
    /// <summary>The accepted spellings, as the flag takes them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fp32", "bf16"];

    /// <summary>The dtype <paramref name="name"/> stands for.</summary>
    /// <exception cref="ArgumentException">An unknown value; the message names the flag and the choices.</exception>
    public static ScalarType Parse(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"--teacher-precision {name} is unknown; use {string.Join(" or ", Names)}."),
    };
}

/// <summary>The values of the on/off teacher flags (<c>--teacher-fold-bn</c>, <c>--teacher-channels-last</c>).</summary>
public static class TeacherSwitches
{
    /// <summary>The accepted spellings, as the flags take them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["on", "off"];

    /// <summary>Whether <paramref name="value"/> of <paramref name="flag"/> is on.</summary>
    /// <exception cref="ArgumentException">An unknown value; the message names the flag and the choices.</exception>
    public static bool Parse(string value, string flag) => value?.Trim().ToLowerInvariant() switch
    {
        "on" or "true" => true,
        "off" or "false" => false,
        _ => throw new ArgumentException($"{flag} {value} is unknown; use {string.Join(" or ", Names)}."),
    };
}
