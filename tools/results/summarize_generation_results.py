#!/usr/bin/env python3
"""Turns the runs of tools/results/run_generation_results.sh into a Markdown report (stdout).

Reads OUT/settings.json, OUT/costs.tsv and every OUT/f<fraction>/<variant>/seed<N>/summary.json (written by vkd gan
train|distill: the last evaluation of G and of its EMA: fid, kid, kid_std), copies each run's final EMA sample grid
to OUT/grids/ and writes: one row per (data fraction, distillation variant) with FID and KID as mean ± sample std
over seeds, the per-seed values, and the mean wall time per run.
Usage: summarize_generation_results.py OUT_DIR > OUT_DIR/results-generation.md
"""
import csv
import json
import os
import shutil
import statistics
import sys

VARIANT = {"none": "no distillation", "layernorm": "distilled D, teacher layer-normalised",
           "whiten": "distilled D, teacher whitened (ZCA, shrinkage 0.1)"}


def mean_std(values, digits=2):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main():
    out = sys.argv[1]
    settings = json.load(open(os.path.join(out, "settings.json")))
    costs = {}
    if os.path.exists(os.path.join(out, "costs.tsv")):
        for r in csv.DictReader(open(os.path.join(out, "costs.tsv")), delimiter="\t"):
            costs[(r["fraction"], r["variant"], r["seed"])] = float(r["wall_s"])
    os.makedirs(os.path.join(out, "grids"), exist_ok=True)
    lines = []
    if settings["smoke"]:
        lines += ["**Smoke run: every run trained for a few iterations at a tiny width; the numbers below only show that the",
                  "pipeline works end to end. They are not results.**", ""]
    lines += [
        f"BigGAN 32x32 (Fashion-MNIST centred on a 32x32 canvas), ch {settings['ch']}, batch {settings['batch']}, "
        f"{settings['d_steps']} D step(s) per G step, {settings['iterations']} G steps, "
        f"DiffAugment translation,cutout, LeCam 0.3 from iteration {settings['lecam_start']}, EMA of G {settings['ema_decay']} "
        f"from step {settings['ema_start']}. Teacher: {settings['teacher']}. FID/KID: the shipped Fashion-MNIST resnet8 "
        f"(assets/fid/), {settings['fid_samples']} samples against {settings['fid_real']} test images. "
        f"Seeds {settings['seeds']}; {settings['parallel']} runs at a time, {settings['threads']} thread(s) each, on {settings['nproc']} cores.",
        "",
        "| data | D | FID (G) | FID (EMA of G) | KID (EMA of G) | per-seed FID (EMA) | s per run |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    grids = []
    for fraction in settings["fractions"].split():
        for variant in settings["variants"].split():
            fid, fid_ema, kid_ema, per_seed, walls = [], [], [], [], []
            for seed in settings["seeds"].split():
                run = os.path.join(out, f"f{fraction}", variant, f"seed{seed}")
                path = os.path.join(run, "summary.json")
                if not os.path.exists(path):
                    per_seed.append(f"seed {seed}: missing")
                    continue
                s = json.load(open(path))
                final, ema = s.get("final") or {}, s.get("final_ema") or {}
                fid.append(final.get("fid"))
                fid_ema.append(ema.get("fid"))
                kid_ema.append(ema.get("kid"))
                per_seed.append(f"{ema['fid']:.2f}" if "fid" in ema else "-")
                if (fraction, variant, seed) in costs:
                    walls.append(costs[(fraction, variant, seed)])
                grid = os.path.join(run, "samples.png")
                if os.path.exists(grid):
                    name = f"f{fraction}-{variant}-seed{seed}.png"
                    shutil.copyfile(grid, os.path.join(out, "grids", name))
                    grids.append((f"{float(fraction):.0%} data, {VARIANT.get(variant, variant)}, seed {seed}", name))
            wall = f"{statistics.mean(walls):.0f}" if walls else "-"
            lines.append(f"| {float(fraction):.0%} | {VARIANT.get(variant, variant)} | {mean_std(fid)} | {mean_std(fid_ema)} | "
                         f"{mean_std(kid_ema, 3)} | {', '.join(per_seed)} | {wall} |")
    lines += ["", "FID and KID (unscaled; the features are the classifier's, not Inception's, so neither compares with published",
              "values): mean ± sample standard deviation over seeds of the evaluation at the end of the run. Lower is better.", ""]
    lines += ["Final sample grids (EMA of G, one row per class, fixed noise per column):", ""]
    lines += [f"- {label}: `grids/{name}`" for label, name in grids]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
