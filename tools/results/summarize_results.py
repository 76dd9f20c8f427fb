#!/usr/bin/env python3
"""Reads the run folders of run_results.sh and prints docs/results.md (standard library only)."""
import json
import math
import os
import sys

out = sys.argv[1]
variants = [
    ("no_kd", "no KD (cross-entropy only)"),
    ("logit_kd", "logit KD (gamma=1, T=1)"),
    ("vkd_linear", "VkD loss with a plain linear projector (alpha=1, gamma=1, LN teacher)"),
    ("vkd", "VkD: orthogonal (Householder) projector + LN teacher (alpha=1, gamma=1)"),
]


def load(path):
    with open(path) as f:
        return json.load(f)


teacher = load(os.path.join(out, "teacher", "summary.json"))
rows = []
for key, label in variants:
    folder = os.path.join(out, key)
    accs = []
    secs = []
    for seed_dir in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        p = os.path.join(folder, seed_dir, "summary.json")
        if os.path.isfile(p):
            s = load(p)
            accs.append((seed_dir, s["final"]["acc1"]))
            secs.append(s["seconds"])
    rows.append((key, label, accs, secs))

n_test = teacher["eval_images"]
print("# Results: distilling a CNN teacher into a small CNN student on Fashion-MNIST")
print()
print("Produced by `tools/results/run_results.sh` (then `tools/results/summarize_results.py`), not by CI.")
print()
s0 = next((r for r in rows if r[2]), None)
opts = teacher["options"]
print(f"- Data: Debian's Fashion-MNIST, the first {teacher['train_images']} training images, all {n_test} test images, 28x28 grey.")
print(f"- Teacher: `resnet32` (CIFAR ResNet, 0.47M parameters, 64-d features) trained with `vkd train` for {teacher['epochs']} epochs: "
      f"**{teacher['final']['acc1']:.2f}%** test top-1.")
print(f"- Student: `resnet8` (78k parameters, 64-d features), same data, batch {opts['batch-size']}, AdamW lr {opts['lr']} "
      f"wd {opts['weight-decay']}, cosine to {opts['min-lr']}, label smoothing {opts['smoothing']}, padded random crop + flip, "
      "no mixup; the same epochs and seeds for every variant. Top-1 is the final epoch's, on all test images.")
print()
print("| student variant | seeds | top-1 per seed (%) | mean (%) | std (%) | time per run (s) |")
print("|---|---|---|---|---|---|")
means = {}
for key, label, accs, secs in rows:
    if not accs:
        print(f"| {label} | 0 | (not run) | | | |")
        continue
    vals = [a for _, a in accs]
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else float("nan")
    means[key] = (mean, std, len(vals))
    per = ", ".join(f"{v:.2f}" for v in vals)
    print(f"| {label} | {len(vals)} | {per} | {mean:.2f} | {std:.2f} | {sum(secs) / len(secs):.0f} |")
print()
se_single = 100 * math.sqrt(0.85 * 0.15 / n_test)
print(f"Noise scale: one run's binomial standard error on {n_test} test images is about {se_single:.2f} points; "
      "seed-to-seed spread is in the std column.")
print()
if "no_kd" in means:
    base, base_sd, n = means["no_kd"]
    print("What the numbers show:")
    print()
    for key, label, accs, _ in rows:
        if key == "no_kd" or key not in means:
            continue
        m, sd, k = means[key]
        diff = m - base
        # Standard error of a difference of two means of k and n runs (seed spread pooled).
        pooled = math.sqrt(((sd if not math.isnan(sd) else 0) ** 2) / k + ((base_sd if not math.isnan(base_sd) else 0) ** 2) / n)
        verdict = "larger than twice its standard error" if pooled > 0 and abs(diff) > 2 * pooled else "within noise (less than twice its standard error)"
        print(f"- {label}: {diff:+.2f} points vs no KD (standard error of the difference {pooled:.2f}): {verdict}.")
    if "vkd" in means and "vkd_linear" in means:
        d = means["vkd"][0] - means["vkd_linear"][0]
        print(f"- Orthogonal vs plain linear projector: {d:+.2f} points.")
