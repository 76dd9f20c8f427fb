using System.Diagnostics;
using System.Globalization;
using VkD.Distillation.Teachers;
using VkD.Interop.Onnx;
using VkD.Models;
using VkD.Training.Teachers;
using static TorchSharp.torch;

namespace VkD.Bench;

/// <summary>
/// Peak resident memory of one frozen teacher in this process: the TorchSharp model, or ONNX Runtime with one memory
/// setting changed (peak RSS is per process, so bench/onnx_memory_bench.sh runs each configuration in its own).
/// Random weights. Options: <c>--model regnety_160 --batch 16 --img 224 --threads 2 --forwards 3
/// --config torch|ort|ort-file|ort-no-arena|ort-no-pattern|ort-no-prepack|ort-lean --onnx FILE</c>.
/// </summary>
public sealed class OnnxMemoryBench : IBenchSuite
{
    /// <inheritdoc />
    public string Name => "onnx-memory";

    /// <inheritdoc />
    public string Description => "Peak RSS of a teacher: TorchSharp vs ONNX Runtime memory settings (one configuration per process)";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        var name = BenchArgs.Option(args, "--model") ?? "regnety_160";
        var batch = BenchArgs.IntOption(args, "--batch", 16);
        var img = BenchArgs.IntOption(args, "--img", 224);
        var forwards = BenchArgs.IntOption(args, "--forwards", 3);
        var threads = BenchArgs.IntOption(args, "--threads", 2);
        var config = BenchArgs.Option(args, "--config") ?? "ort";
        set_num_threads(threads);
        var baseline = BenchArgs.ProcStatusKib("VmRSS");
        manual_seed(0);
        ITeacher teacher;
        var model = ModelRegistry.Create(name, new ModelOptions(1000, img));
        if (config == "torch")
        {
            teacher = new ModelTeacher(model, name);
        }
        else if (config == "ort-file")
        {
            // ONNX Runtime alone: the file exported beforehand by another process (bench/onnx_memory_bench.sh).
            model.Dispose();
            var file = BenchArgs.Option(args, "--onnx") ?? throw new ArgumentException("--config ort-file needs --onnx FILE.");
            baseline = BenchArgs.ProcStatusKib("VmRSS");
            teacher = OnnxTeacher.Open(file, new OnnxTeacherOptions { IntraOpThreads = threads });
        }
        else
        {
            var options = config switch
            {
                "ort" => new OnnxTeacherOptions(),
                "ort-no-arena" => new OnnxTeacherOptions { MemoryArena = false },
                "ort-no-pattern" => new OnnxTeacherOptions { MemoryPattern = false },
                "ort-no-prepack" => new OnnxTeacherOptions { Prepacking = false },
                "ort-lean" => new OnnxTeacherOptions { MemoryArena = false, MemoryPattern = false, Prepacking = false },
                _ => throw new ArgumentException($"--config {config}: use torch, ort, ort-file, ort-no-arena, ort-no-pattern, ort-no-prepack or ort-lean."),
            };
            // As `--teacher ort:MODEL` does: the TorchSharp model is released between the export and the load.
            teacher = OnnxTeacher.FromModel(model, img, options with { IntraOpThreads = threads }, disposeModel: true);
        }
        GC.Collect();
        var loaded = BenchArgs.ProcStatusKib("VmRSS");
        using var x = randn(batch, 3, img, img);
        var best = double.MaxValue;
        for (var i = 0; i < forwards; i++)
        {
            var w = Stopwatch.StartNew();
            var o = teacher.Forward(x);
            best = Math.Min(best, w.Elapsed.TotalSeconds);
            o.Logits?.Dispose();
            o.Features.Dispose();
        }
        var after = BenchArgs.ProcStatusKib("VmRSS");
        var peak = BenchArgs.ProcStatusKib("VmHWM");
        teacher.Dispose();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {config} | {name} | {batch} | {(loaded - baseline) / 1024.0:F0} | {after / 1024.0:F0} | {peak / 1024.0:F0} | {batch / best:F2} |"));
        return 0;
    }
}
