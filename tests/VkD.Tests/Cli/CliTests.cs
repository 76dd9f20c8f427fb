using Spectre.Console;
using VkD.Cli;
using VkD.Tests.Training;
using VkD.Training.Logging;

namespace VkD.Tests.Cli;

[Collection(EndToEndCollection.Name)]
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vkd-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output) Run(params string[] args) => VkD.Tests.Cli.CliRunner.Run(args);

    private string[] TinyTrainArgs(string outDir, params string[] extra) =>
    [
        "--data-set", "fashion-mnist", "--data-path", TrainingTestData.DataPath, "--train-subset", "128", "--eval-subset", "64",
        "--batch-size", "32", "--epochs", "1", "--mixup", "0", "--cutmix", "0", "--threads", "1", "--num-workers", "1",
        "--output_dir", outDir, .. extra,
    ];

    [Fact]
    public void Eval_and_export_take_model_input_size_and_channels_from_what_training_recorded()
    {
        // Issue 18.14: config.json recorded input size 0, eval on model.pth guessed its size and export needed --model.
        var outDir = Path.Combine(_dir, "facts");
        var (code, output) = Run(["train", "--model", "resnet8", .. TinyTrainArgs(outDir), "--teacher", "resnet32"]);
        Assert.True(code == 0, output);
        Assert.Contains("vkd train trains without a teacher", output);
        Assert.Contains("\"input-size\": 28", File.ReadAllText(Path.Combine(outDir, RunFiles.ConfigJson)));
        Assert.True(File.Exists(Path.Combine(outDir, RunFiles.FinalWeightsInfo)));
        (code, output) = Run("eval", "--student-ckpt", Path.Combine(outDir, RunFiles.FinalWeights), "--data-set", "fashion-mnist",
            "--data-path", TrainingTestData.DataPath, "--eval-subset", "64", "--threads", "1");
        Assert.True(code == 0, output);
        Assert.Contains("resnet8", output);
        var onnx = Path.Combine(_dir, "facts.onnx");
        (code, output) = Run("export", "--checkpoint", Path.Combine(outDir, RunFiles.LatestCheckpoint), "--output", onnx, "--no-verify");
        Assert.True(code == 0, output);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx);
        Assert.Equal([1, 28, 28], session.InputMetadata.Single().Value.Dimensions.Skip(1));

        // Normalisation and class names are recorded in the checkpoint, the sidecar and the ONNX metadata.
        var facts = VkD.Training.Checkpoints.CheckpointFacts.Read(Path.Combine(outDir, RunFiles.LatestCheckpoint));
        Assert.Equal([0.2860], facts.Mean);
        Assert.Equal([0.3530], facts.Std);
        var classes = VkD.Data.Datasets.DatasetSpec.FromArgs("fashion-mnist", TrainingTestData.DataPath).Open(VkD.Data.Datasets.DataSplit.Train).ClassNames;
        Assert.Equal(classes, facts.ClassNames);
        Assert.Equal(classes, VkD.Training.Checkpoints.CheckpointFacts.Read(Path.Combine(outDir, RunFiles.FinalWeights)).ClassNames);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("resnet8", meta["vkd.model"]);
        Assert.Equal("28", meta["vkd.input_size"]);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(classes), meta["vkd.class_names"]);
        Assert.Equal("[0.286]", meta["vkd.mean"]);
    }

    [Fact]
    public void Bad_image_files_stop_the_run_before_training_or_are_left_out_and_listed_with_skip_bad_images()
    {
        // Issue 18.8: a text file named .jpg or a truncated image aborted the run natively hours in.
        var root = Path.Combine(_dir, "photos");
        foreach (var split in new[] { "train", "val" })
        {
            foreach (var cls in new[] { "cat", "dog" })
            {
                for (var i = 0; i < 6; i++)
                {
                    VkD.Tests.Data.DataTestHelpers.WriteImage(Path.Combine(root, split, cls, $"{i}.png"), VkD.Tests.Data.DataTestHelpers.Pattern(20, 20, i));
                }
            }
        }
        File.WriteAllText(Path.Combine(root, "train", "cat", "notes.jpg"), "this is not a photo");
        var good = File.ReadAllBytes(Path.Combine(root, "train", "dog", "0.png"));
        File.WriteAllBytes(Path.Combine(root, "train", "dog", "cut.png"), good[..(good.Length / 2)]);
        File.WriteAllBytes(Path.Combine(root, "val", "dog", "cut.png"), good[..(good.Length / 2)]);
        string[] common = ["train", "--model", "resnet8", "--data-path", root, "--input-size", "16", "--batch-size", "4", "--epochs", "1",
            "--mixup", "0", "--cutmix", "0", "--threads", "1", "--num-workers", "1"];

        var (code, output) = Run([.. common, "--output_dir", Path.Combine(_dir, "strict")]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("3 image file(s) cannot be used", output);
        Assert.Contains("notes.jpg", output);
        Assert.Contains("--skip-bad-images", output);
        Assert.False(File.Exists(Path.Combine(_dir, "strict", RunFiles.LatestCheckpoint)));

        var outDir = Path.Combine(_dir, "lenient");
        (code, output) = Run([.. common, "--skip-bad-images", "--output_dir", outDir]);
        Assert.True(code == 0, output);
        Assert.Contains("3 bad image file(s) left out", output);
        Assert.Contains("12 training images", output);
        var listed = File.ReadAllLines(Path.Combine(outDir, RunFiles.BadImages));
        Assert.Equal(3, listed.Length);
        Assert.Contains(listed, l => l.StartsWith(Path.Combine(root, "train", "cat", "notes.jpg") + "\t", StringComparison.Ordinal)
            && l.Contains("not a recognised image format", StringComparison.Ordinal));
        Assert.Contains(listed, l => l.StartsWith(Path.Combine(root, "val", "dog", "cut.png"), StringComparison.Ordinal));
    }

    [Fact]
    public void An_output_dir_that_is_a_file_an_overflowing_config_and_a_batch_larger_than_the_data_are_usage_errors()
    {
        // Issue 18.9: each of these was a stack trace.
        var file = Path.Combine(_dir, "afile");
        File.WriteAllText(file, "");
        var (code, output) = Run(["train", "--model", "resnet8", .. TinyTrainArgs(file)]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("is a file", output);

        var config = Path.Combine(_dir, "big.yaml");
        File.WriteAllText(config, "epochs: 99999999999\n");
        (code, output) = Run(["train", "--model", "resnet8", "--config", config, .. TinyTrainArgs(Path.Combine(_dir, "o1"))]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("big.yaml", output);
        Assert.Contains("'epochs'", output);

        (code, output) = Run(["train", "--model", "resnet8", .. TinyTrainArgs(Path.Combine(_dir, "o2")), "--batch-size", "1000"]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--batch-size 1000 is larger than the 128 training images", output);
    }

    [Fact]
    public void Resume_refuses_a_different_model_and_lists_the_options_that_changed()
    {
        var outDir = Path.Combine(_dir, "resume-check");
        var (code, output) = Run(["train", "--model", "resnet8", .. TinyTrainArgs(outDir), "--epochs", "2"]);
        Assert.True(code == 0, output);
        (code, output) = Run(["train", "--model", "resnet20", .. TinyTrainArgs(outDir), "--epochs", "3", "--resume", "auto"]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--student-model: resnet8 -> resnet20", output);
        // A lower learning rate and more epochs are what resuming is for: allowed, and said.
        (code, output) = Run(["train", "--model", "resnet8", .. TinyTrainArgs(outDir), "--epochs", "3", "--lr", "0.0001", "--resume", "auto"]);
        Assert.True(code == 0, output);
        Assert.Contains("Resuming with a changed option: --lr: 0.0005 -> 0.0001", output);
        Assert.Contains("Resuming with a changed option: --epochs: 2 -> 3", output);
        Assert.Contains("continuing at epoch 3/3, iteration 1/", output);
    }

    [Fact]
    public void A_resume_checkpoint_with_wrongly_typed_optimizer_state_is_a_usage_error_naming_the_entry()
    {
        // Issue 18.9: an optimizer state whose moments are not tensors crashed with an InvalidCastException.
        var outDir = Path.Combine(_dir, "typed");
        var (code, output) = Run(["train", "--model", "resnet8", .. TinyTrainArgs(outDir)]);
        Assert.True(code == 0, output);
        var latest = Path.Combine(outDir, RunFiles.LatestCheckpoint);
        foreach (var (what, broken) in new (string, object?)[] { ("moments", "oops"), ("groups", null) })
        {
            using (var checkpoint = VkD.Interop.Checkpoints.CheckpointReader.Read(latest))
            {
                var entries = checkpoint.Entries.ToDictionary(kv => kv.Key, kv => kv.Value);
                var optimizer = ((IReadOnlyDictionary<string, object?>)entries["optimizer"]!).ToDictionary(kv => kv.Key, kv => kv.Value);
                if (what == "moments")
                {
                    var state = new Dictionary<object, object?>();
                    foreach (System.Collections.DictionaryEntry d in (System.Collections.IDictionary)optimizer["state"]!)
                    {
                        state[d.Key] = d.Value;
                    }
                    var first = state.Keys.First();
                    state[first] = ((IReadOnlyDictionary<string, object?>)state[first]!).ToDictionary(kv => kv.Key, kv => kv.Key == "exp_avg" ? broken : kv.Value);
                    optimizer["state"] = state;
                }
                else
                {
                    optimizer["param_groups"] = "x";
                }
                entries["optimizer"] = optimizer;
                VkD.Interop.Checkpoints.CheckpointWriter.Write(Path.Combine(_dir, "broken.pth.tar"), entries);
            }
            File.Copy(Path.Combine(_dir, "broken.pth.tar"), latest, overwrite: true);
            (code, output) = Run(["train", "--model", "resnet8", .. TinyTrainArgs(outDir), "--epochs", "2", "--resume", "auto"]);
            Assert.Equal(Program.UsageError, code);
            Assert.Contains("entry 'optimizer'", output);
        }
    }

    [Fact]
    public void A_missing_teacher_path_for_the_reference_teacher_says_where_its_weights_come_from()
    {
        var (code, output) = Run(["distill", "--student-model", "deit_ti_distilled", "--teacher", "regnety_160", .. TinyTrainArgs(Path.Combine(_dir, "nopath"))]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("needs --teacher-path", output);
        Assert.Contains("regnety_160-a5fe301d.pth", output);
    }

    [Fact]
    public void Unknown_student_model_is_a_usage_error_naming_the_known_models()
    {
        var (code, output) = Run(["distill", "--student-model", "deit_gigantic", "--teacher", "resnet32", "--teacher-path", TrainingTestData.TeacherPath,
            .. TinyTrainArgs(Path.Combine(_dir, "x"))]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--student-model deit_gigantic: unknown model", output);
        Assert.Contains("resnet8", output);
        Assert.False(Directory.Exists(Path.Combine(_dir, "x")), "nothing may be written before the error");
    }

    [Fact]
    public void Bad_flag_values_are_usage_errors()
    {
        var (code, output) = Run("distill", "--projector", "qr", "--student-model", "resnet8");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--projector qr is unknown", output);

        (code, output) = Run("train", "--model", "resnet8", "--batch-size", "-3");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--batch-size must be positive", output);

        (code, output) = Run("train", "--model", "resnet8", "--device", "cuda:1");
        Assert.Equal(2, code);
        Assert.Contains("--device cuda:1", output);
        Assert.Contains("CUDA", output);
        (code, output) = Run("train", "--model", "resnet8", "--device", "tpu");
        Assert.Equal(2, code);
        Assert.Contains("cpu, cuda or cuda:N", output);
        (code, output) = Run("train", "--model", "resnet8", "--schedule-unit", "fortnight");
        Assert.Equal(2, code);
        Assert.Contains("--schedule-unit fortnight", output);
        foreach (var (flag, value) in new[] { ("--lr", "nan"), ("--alpha", "nan"), ("--gamma", "-1"), ("--smoothing", "1"), ("--lr", "Infinity"), ("--opt", "lion") })
        {
            (code, output) = Run("distill", "--student-model", "resnet8", "--teacher", "resnet32", "--teacher-path", TrainingTestData.TeacherPath, flag, value);
            Assert.Equal(Program.UsageError, code);
            Assert.Contains(flag, output);
        }
        (code, output) = Run("train", "--no-such-flag");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("no-such-flag", output);
    }

    [Fact]
    public void A_data_path_without_data_is_a_usage_error_before_training()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var (code, output) = Run("train", "--model", "resnet8", "--data-path", empty, "--output-dir", Path.Combine(_dir, "o"));
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("holds no dataset", output);

        (code, output) = Run("train", "--model", "resnet8", "--data-set", "fashion-mnist", "--data-path", empty);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("No usable FashionMnist data", output);
    }

    [Fact]
    public void Teacher_runtime_onnx_runs_the_zoo_teacher_through_onnx_runtime_and_rejects_unknown_runtimes()
    {
        var (code, output) = Run(["distill", "--student-model", "resnet8", "--teacher", "resnet32", "--teacher-path", TrainingTestData.TeacherPath,
            "--teacher-runtime", "tensorflow", .. TinyTrainArgs(Path.Combine(_dir, "rt-bad"))]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--teacher-runtime 'tensorflow' is not known", output);

        var outDir = Path.Combine(_dir, "rt-onnx");
        (code, output) = Run(["distill", "--student-model", "resnet8", "--teacher", "resnet32", "--teacher-path", TrainingTestData.TeacherPath,
            "--teacher-runtime", "onnx", .. TinyTrainArgs(outDir)]);
        Assert.True(code == 0, output);
        var config = File.ReadAllText(Path.Combine(outDir, "config.json"));
        Assert.Contains("ort:resnet32", config);
        Assert.True(File.Exists(Path.Combine(outDir, RunFiles.IterationsCsv)));
    }

    [Fact]
    public void Teacher_and_student_that_cannot_be_paired_fail_before_training()
    {
        // An orthogonal projector needs d_s <= d_t: a 256-d student (resnet8x4) cannot map into a 64-d teacher (resnet32).
        var (code, output) = Run(["distill", "--student-model", "resnet8x4", "--teacher", "resnet32", "--teacher-path", TrainingTestData.TeacherPath,
            .. TinyTrainArgs(Path.Combine(_dir, "pair"))]);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("d_s <= d_t", output);
        Assert.False(File.Exists(Path.Combine(_dir, "pair", RunFiles.IterationsCsv)));
    }

    [Fact]
    public void Config_file_values_apply_and_flags_override_them_and_eval_writes_json_and_predictions()
    {
        var outDir = Path.Combine(_dir, "cfg");
        var config = Path.Combine(_dir, "run.yaml");
        File.WriteAllText(config, "model: resnet8\nlr: 0.004\nseed: 5\nepochs: 3\nteacher: resnet32\n");
        // --opt became a real flag (issue 18.16); --sched is still one the reference accepts and never reads.
        var (code, output) = Run(["train", "--config", config, .. TinyTrainArgs(outDir), "--opt", "sgd", "--sched", "cosine"]);
        Assert.True(code == 0, output);
        Assert.Contains("--sched is accepted for compatibility", output);
        // A teacher in the config file, as a teacher flag (below), is accepted by vkd train with the same warning.
        Assert.Contains("vkd train trains without a teacher", output);
        // The start banner: what the run is about to do, before the first step.
        Assert.Contains("model resnet8: 0.08M parameters, 1x28x28 input", output);
        Assert.Contains("device cpu, 1 threads", output);
        Assert.Contains("sgd lr 0.004 per iteration", output);
        var resolved = File.ReadAllText(Path.Combine(outDir, RunFiles.ConfigJson));
        Assert.Contains("\"lr\": 0.004", resolved);
        Assert.Contains("\"seed\": 5", resolved);
        Assert.Contains("\"epochs\": 1", resolved); // the flag beat the file's 3
        Assert.Contains("epoch 1/1", output);

        var json = Path.Combine(_dir, "metrics.json");
        var predictions = Path.Combine(_dir, "pred.csv");
        (code, output) = Run("eval", "--eval-student", "--student-ckpt", Path.Combine(outDir, RunFiles.LatestCheckpoint), "--data-set", "fashion-mnist",
            "--data-path", TrainingTestData.DataPath, "--eval-subset", "64", "--json", json, "--predictions", predictions, "--threads", "1");
        Assert.True(code == 0, output);
        Assert.Contains("top-1", output);
        var lines = File.ReadAllLines(predictions);
        Assert.Equal("index,source,label,pred,top5,label_name,pred_name", lines[0]);
        Assert.Equal(65, lines.Length);
        Assert.Equal(5, lines[1].Split(',')[4].Split(' ').Length);
        // Class names next to the indices (issue 18.18), as the dataset names them.
        var classes = VkD.Data.Datasets.DatasetSpec.FromArgs("fashion-mnist", TrainingTestData.DataPath).Open(VkD.Data.Datasets.DataSplit.Val).ClassNames;
        Assert.All(lines.Skip(1).Select(l => l.Split(',')), f => Assert.Equal(classes[int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)], f[5]));

        // The run kept no EMA, so its student_ema entry is None: say that, not "missing" while listing it.
        (code, output) = Run("eval", "--ema", "--student-ckpt", Path.Combine(outDir, RunFiles.LatestCheckpoint), "--data-set", "fashion-mnist",
            "--data-path", TrainingTestData.DataPath, "--eval-subset", "64", "--threads", "1");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("'student_ema'", output);
        Assert.Contains("is None", output);
        Assert.Contains("without --student-ema", output);
        var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        var correct = lines.Skip(1).Count(l => l.Split(',')[2] == l.Split(',')[3]);
        Assert.Equal(100.0 * correct / 64, metrics.GetProperty("acc1").GetDouble(), 9);
        var logged = CsvLog.Read(Path.Combine(outDir, RunFiles.EpochsCsv))[^1]["acc1"];
        Assert.Equal(double.Parse(logged, System.Globalization.CultureInfo.InvariantCulture), metrics.GetProperty("acc1").GetDouble(), 9);
    }

    [Fact]
    public void Quickstart_runs_its_three_variants_on_a_reduced_size_and_writes_the_report()
    {
        var outDir = Path.Combine(_dir, "qs");
        var (code, output) = Run("quickstart", "--output-dir", outDir, "--epochs", "1", "--train-subset", "128", "--eval-subset", "64", "--threads", "1");
        Assert.True(code == 0, output);
        foreach (var v in new[] { "no_kd", "logit_kd", "vkd" })
        {
            Assert.Contains($"--- {v}", output);
            Assert.True(File.Exists(Path.Combine(outDir, v, RunFiles.SummaryJson)), $"{v} wrote no summary");
            Assert.True(File.Exists(Path.Combine(outDir, v, RunFiles.LossPlot)), $"{v} wrote no loss plot");
        }
        var report = File.ReadAllText(Path.Combine(outDir, "quickstart.md"));
        Assert.Contains("| vkd |", report);
        Assert.Contains("| logit_kd |", report);
        // The VkD variant really trains with the feature term, the others do not.
        var vkdIters = CsvLog.Read(Path.Combine(outDir, "vkd", RunFiles.IterationsCsv));
        Assert.All(vkdIters, r => Assert.NotEqual("0", r["repr"]));
        Assert.All(CsvLog.Read(Path.Combine(outDir, "logit_kd", RunFiles.IterationsCsv)), r => Assert.Equal("0", r["repr"]));
        Assert.All(CsvLog.Read(Path.Combine(outDir, "no_kd", RunFiles.IterationsCsv)), r => Assert.Equal("0", r["kd"]));
    }
}
