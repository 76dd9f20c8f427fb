using System.Reflection;
using VkD.Cli.Commands;
using VkD.Training.Options;

namespace VkD.Cli.Infrastructure;

/// <summary>
/// Turns parsed flags into <see cref="TrainingOptions"/>: defaults, then <c>--config</c>, then every flag that was
/// given. Flags the reference accepts but ignores are reported so the user knows they had no effect.
/// </summary>
public static class OptionsResolver
{
    /// <summary>Resolves <paramref name="settings"/> on top of <paramref name="defaults"/>; warnings go to
    /// <paramref name="warn"/>.</summary>
    public static TrainingOptions Resolve(TrainingSettings settings, TrainingOptions defaults, Action<string> warn)
    {
        var options = defaults.Clone();
        if (!string.IsNullOrEmpty(settings.Config))
        {
            ConfigFile.Apply(options, ConfigFile.Read(settings.Config), settings.Config);
        }
        var target = typeof(TrainingOptions).GetProperties().ToDictionary(p => p.Name);
        foreach (var p in settings.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var value = p.GetValue(settings);
            if (value is null)
            {
                continue;
            }
            if (p.GetCustomAttribute<CompatibilityOnlyAttribute>() is not null)
            {
                warn($"--{ConfigFile.FlagName(p.Name)} is accepted for compatibility with main_distributed.py and has no effect (as in the reference).");
                continue;
            }
            if (target.TryGetValue(p.Name, out var t) && t.CanWrite)
            {
                t.SetValue(options, value);
            }
        }
        if (settings.NoStudentEma == true)
        {
            options.StudentEma = false;
        }
        return options;
    }
}
