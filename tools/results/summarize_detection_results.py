#!/usr/bin/env python3
"""Reads the run folders of run_detection_results.sh and prints docs/results-detection.md (standard library only)."""
import json
import math
import os
import sys

out = sys.argv[1]
variants = [
    ("no_distill", "no distillation (ViDT's set losses only)"),
    ("vidt_token_matching", "ViDT's token matching (no projector, per-token L2, neck x7, sqrt; x4)"),
    ("vkd", "VkD: six orthogonal projectors, per-channel standardisation, SmoothL1 (x4)"),
]
metrics = ("AP", "AP50", "AP75")


def load(path):
    with open(path) as f:
        return json.load(f)


def mean_std(values):
    if not values:
        return float("nan"), float("nan")
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, float("nan")
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def pct(x):
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.2f}"


teacher = load(os.path.join(out, "teacher", "summary.json"))
runs = {}
for key, _ in variants:
    folder = os.path.join(out, key)
    runs[key] = []
    for seed_dir in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        p = os.path.join(folder, seed_dir, "summary.json")
        if os.path.isfile(p):
            runs[key].append((seed_dir, load(p)))

student = next((s for key, _ in variants for _, s in runs[key]), None)
va = student["vidt_args"] if student else {}
ta = teacher["vidt_args"]
print("# Results: ViDT detection distillation on generated scenes")
print()
print("Produced by `tools/results/run_detection_results.sh` (then `tools/results/summarize_detection_results.py`), not by CI.")
print()
print(f"- Data: `vkd data make-detection` scenes of Fashion-MNIST objects, {teacher['train_images']} training and "
      f"{teacher['eval_images']} val images of {ta.get('train_size')} px (COCO evaluation of the val images at "
      f"--eval_size {ta.get('eval_size')}).")
print(f"- Teacher: ViDT with `{ta.get('backbone_name')}`, {teacher['epochs']} epoch(s), seed {ta.get('seed', 42)}, random init: "
      f"final AP {pct(teacher['final']['AP'])}, AP50 {pct(teacher['final']['AP50'])}, AP75 {pct(teacher['final']['AP75'])} "
      f"({teacher['seconds']:.0f} s).")
if student:
    print(f"- Students: ViDT with `{va.get('backbone_name')}`, {student['epochs']} epoch(s), batch {va.get('batch_size')}, "
          f"aux loss and box refinement, 100 [DET] tokens, 6 decoder layers, AdamW lr {va.get('lr')} (ViDT's lagged "
          f"per-epoch cosine to {va.get('min-lr')}), weight decay 1e-4, clip 0.1, random init; the same data, epochs and "
          "seeds for every variant; the teacher on the same padded batch, eval mode, no autograd.")
print("- AP numbers are COCO's (pycocotools' definition, here in percent) of the final epoch on all val images; "
      "mean and sample standard deviation over the seeds.")
print()
print("| student | seeds | AP per seed | AP mean ± std | AP50 mean ± std | AP75 mean ± std | seconds per run |")
print("|---|---|---|---|---|---|---|")
for key, label in variants:
    rows = runs[key]
    if not rows:
        print(f"| {label} | 0 | not run | | | | |")
        continue
    cells = []
    for m in metrics:
        mu, sd = mean_std([s["final"][m] for _, s in rows])
        cells.append(f"{pct(mu)} ± {pct(sd)}")
    per_seed = ", ".join(f"{pct(s['final']['AP'])}" for _, s in rows)
    secs = sum(s["seconds"] for _, s in rows) / len(rows)
    print(f"| {label} | {len(rows)} | {per_seed} | {' | '.join(cells)} | {secs:.0f} |")
print()
print(f"Teacher: AP {pct(teacher['final']['AP'])}, AP50 {pct(teacher['final']['AP50'])}, AP75 {pct(teacher['final']['AP75'])}.")
total = teacher["seconds"] + sum(s["seconds"] for key, _ in variants for _, s in runs[key])
print()
print(f"Total training time (sum of runs): {total / 60:.1f} min.")
