namespace VkD.Distillation.Methods;

/// <summary>Range checks of the methods' hyper-parameters, with messages that name the term and the setting.</summary>
internal static class MethodChecks
{
    public static void NonNegative(string term, string setting, double value)
    {
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(setting, value, $"Loss term '{term}': {setting} must be finite and >= 0.");
        }
    }

    public static void Positive(string term, string setting, double value)
    {
        if (!(value > 0) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(setting, value, $"Loss term '{term}': {setting} must be finite and > 0.");
        }
    }

    public static void PositiveCount(string term, string setting, long value)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(setting, value, $"Loss term '{term}': {setting} must be > 0.");
        }
    }
}
