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
        if (settings is TrainSettings && (!string.IsNullOrEmpty(options.Teacher) || !string.IsNullOrEmpty(options.TeacherPath)))
        {
            // The same whether it came from a flag or from --config: vkd train never builds a teacher.
            warn($"vkd train trains without a teacher: the teacher settings (teacher '{options.Teacher}', teacher-path '{options.TeacherPath}') have no effect; use vkd distill to distill.");
            options.Teacher = "";
            options.TeacherPath = "";
        }
        if (settings is DistillSettings { TeacherRuntime: { } runtime })
        {
            options.Teacher = ApplyTeacherRuntime(options.Teacher, runtime);
        }
        return options;
    }

    // --teacher-runtime onnx is a spelling of the ort: teacher kind (ExportOnnxTeacherWiring), kept for users who
    // switch runtimes without rewriting the teacher name.
    private static string ApplyTeacherRuntime(string teacher, string runtime)
    {
        switch (runtime.ToLowerInvariant())
        {
            case "torch" or "torchsharp":
                return teacher;
            case "onnx" or "ort" or "onnxruntime":
                if (string.IsNullOrEmpty(teacher))
                {
                    throw new ArgumentException("--teacher-runtime onnx needs --teacher MODEL (a zoo model name).");
                }
                if (teacher.Contains(':', StringComparison.Ordinal))
                {
                    throw new ArgumentException($"--teacher-runtime onnx applies to zoo teachers; '--teacher {teacher}' already names its runtime.");
                }
                return "ort:" + teacher;
            default:
                throw new ArgumentException($"--teacher-runtime '{runtime}' is not known: use torch or onnx.");
        }
    }
}
