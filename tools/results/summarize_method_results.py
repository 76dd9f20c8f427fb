"""Turns the sweeps of tools/results/run_method_results.sh into Markdown tables (stdout).

Reads OUT/<setting>/<student>/<method>/sweep.json (written by `vkd sweep`) and OUT/costs.tsv. For every setting and
student: one row per method with mean ± sample std (n-1) over seeds of the last and best top-1 and the last top-5,
the per-seed last top-1, the difference to the no-KD baseline with its standard error, and the sweep's cost.

    /usr/bin/python3 tools/results/summarize_method_results.py OUT [--smoke]

--smoke puts a banner on top: the numbers then only prove that the script runs end to end.
"""
import csv
import json
import math
import os
import sys

SETTINGS = {
    "fmnist": "Fashion-MNIST, teacher resnet32",
    "photos": "Tux Paint photos, teacher ImageNet ResNet-18 (ONNX, 512-d features)",
}
STUDENTS = ["resnet8", "deit_nano_patch4_32"]
ORDER = ["none", "kd", "dkd", "dist", "fitnet", "at", "rkd", "pkt", "crd", "srd",
         "vkd", "vkd_linear", "vkd_nonorm", "vkd_linear_nonorm"]
LABELS = {
    "none": "no KD (cross-entropy only)",
    "kd": "KD (T 4)",
    "dkd": "DKD",
    "dist": "DIST",
    "fitnet": "FitNets",
    "at": "AT",
    "rkd": "RKD",
    "pkt": "PKT",
    "crd": "CRD (4096 negatives)",
    "srd": "SRD",
    "vkd": "VkD: orthogonal projector, layernorm",
    "vkd_linear": "VkD loss, linear projector, layernorm",
    "vkd_nonorm": "VkD: orthogonal projector, no norm",
    "vkd_linear_nonorm": "VkD loss, linear projector, no norm",
}


def spread(metric):
    std = metric["std"]
    return f"{metric['mean']:.2f} ± {std:.2f}" if std is not None else f"{metric['mean']:.2f} (1 seed)"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    out = args[0]
    costs = {}
    if os.path.exists(os.path.join(out, "costs.tsv")):
        with open(os.path.join(out, "costs.tsv")) as f:
            for row in csv.DictReader(f, delimiter="\t"):
                costs[(row["setting"], row["student"], row["method"])] = (int(row["wall_s"]), int(row["seed_run_s"]))
    lines = []
    if "--smoke" in sys.argv:
        lines += ["> **SMOKE RUN, NOT RESULTS.** Reduced epochs, subsets, seeds and methods: these numbers only show that",
                  "> the script runs end to end. Do not quote them.", ""]
    software = None
    total_wall = 0
    for setting, title in SETTINGS.items():
        root = os.path.join(out, setting)
        if not os.path.isdir(root):
            continue
        # CNN student first, then the ViT, then anything else by name.
        for student in sorted(os.listdir(root), key=lambda n: (STUDENTS.index(n) if n in STUDENTS else len(STUDENTS), n)):
            folder = os.path.join(root, student)
            if not os.path.isdir(folder) or student == "teacher":
                continue
            sweeps = {}
            for method in os.listdir(folder):
                path = os.path.join(folder, method, "sweep.json")
                if os.path.exists(path):
                    with open(path) as f:
                        sweeps[method] = json.load(f)
            if not sweeps:
                continue
            any_sweep = next(iter(sweeps.values()))
            software = software or any_sweep["software"]
            config = any_sweep["config"]
            lines.append(f"### {title}; student `{student}`")
            lines.append("")
            lines.append(f"{config['epochs']} epochs, train subset {config['train-subset'] or 'all'}, "
                         f"eval subset {config['eval-subset'] or 'all'}, seeds {', '.join(map(str, any_sweep['seeds']))}.")
            lines.append("")
            lines.append("| method | last top-1 (%) | best top-1 (%) | last top-5 (%) | last top-1 per seed | vs no KD (last top-1) | cost (s): wall / seed runs |")
            lines.append("|---|---|---|---|---|---|---|")
            base = sweeps.get("none")
            for method in sorted(sweeps, key=lambda m: ORDER.index(m) if m in ORDER else len(ORDER)):
                s = sweeps[method]
                last = s["last_acc1"]
                diff = ""
                if base is not None and method != "none":
                    b = base["last_acc1"]
                    d = last["mean"] - b["mean"]
                    if last["std"] is not None and b["std"] is not None:
                        se = math.sqrt(last["std"] ** 2 / len(last["values"]) + b["std"] ** 2 / len(b["values"]))
                        verdict = "beyond 2 SE" if se > 0 and abs(d) > 2 * se else "within 2 SE"
                        diff = f"{d:+.2f} (SE {se:.2f}, {verdict})"
                    else:
                        diff = f"{d:+.2f}"
                wall, runs = costs.get((setting, student, method), (None, None))
                if wall is not None:
                    total_wall += wall
                cost = f"{wall} / {runs}" if wall is not None else "?"
                per_seed = ", ".join(f"{v:.2f}" for v in last["values"])
                lines.append(f"| {LABELS.get(method, method)} | {spread(last)} | {spread(s['best_acc1'])} | "
                             f"{spread(s['last_acc5'])} | {per_seed} | {diff} | {cost} |")
            lines.append("")
    if software:
        lines.append(f"std: sample standard deviation over seeds (n-1). SE: standard error of the difference of two means. "
                     f"Total wall time of the sweeps: {total_wall} s.")
        lines.append("")
        lines.append(f"Software: VkD.NET {software['vkd_net']}, TorchSharp {software['torchsharp']}, libtorch {software['libtorch']}, "
                     f"{software['dotnet']}, {software['os']}, CPU {software['cpu']} ({software['logical_cores']} logical cores), "
                     f"{software['threads_per_run']} thread(s) per run, {software['parallel']} seed(s) at a time.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
