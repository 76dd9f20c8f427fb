#!/usr/bin/env bash
# VkD's generation experiment (issue 15) at this machine's scale, over `vkd gan train|distill` only: a class-
# conditional BigGAN (DiffAugment translation+cutout, LeCam) on Fashion-MNIST at 10 % and 100 % of the training data,
# without distillation and with D distilled from the frozen ImageNet ResNet-18 (NuGet
# Microsoft.ML.DnnImageFeaturizer.ResNet18, ONNX, 512-d pooled features) through one orthogonal projector, the
# teacher's features layer-normalised or whitened (ZCA with shrinkage, the paper's claim), >= 2 seeds each. FID and
# KID with the shipped Fashion-MNIST classifier (assets/fid/, never the teacher) against all 10000 test images;
# tools/results/summarize_generation_results.py writes $OUT/results-generation.md (mean ± std over seeds, per-seed
# values, costs, the final EMA sample grid of every run).
#
# Usage: tools/results/run_generation_results.sh [OUT_DIR]      (VKD=path/to/vkd to use a prebuilt binary)
# A rerun skips finished runs and resumes killed ones (--resume auto). Runs go $PARALLEL at a time, 1 thread each.
# Knobs (environment), defaults = the full table (sized for < 2 h on an idle 2-core machine, docs/results-generation.md):
#   FRACTIONS="0.1 1.0"  VARIANTS="none layernorm whiten"  SEEDS="0 1"  PARALLEL=2  THREADS=1
#   CH=8  BATCH=16  DSTEPS=1  ITERS=500 (G steps)  EVALS=2 (evaluations per run, at ITERS/EVALS and at the end)
#   EMA_DECAY=0.98  EMA_START=5  LECAM_START=5  (the reference's 0.9999 / 1000 / 1000 of ~1.25e5 iterations, scaled to
#   the same fractions of this run: start at 0.8 %, EMA half-life 5.5 % of the run)
#   FID_SAMPLES=5000  FID_REAL=10000
#   RESNET18_ONNX=path (default: found in the NuGet cache, restored if absent)  FMNIST=/usr/share/datasets/fashion-mnist
#   SMOKE=1: every run for 2 iterations (2 evaluations) at width 4, batch 4, 1 D step, 200 FID samples against 200
#            test images
#            (proves the pipeline end to end in minutes; its numbers are not results)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vkd-generation-results}
if [[ -z "${VKD:-}" ]]; then
  dotnet build src/VkD.Cli -c Release >/dev/null
  VKD=src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd
fi
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
FRACTIONS=${FRACTIONS:-"0.1 1.0"}
VARIANTS=${VARIANTS:-"none layernorm whiten"}
SEEDS=${SEEDS:-"0 1"}
PARALLEL=${PARALLEL:-2}
THREADS=${THREADS:-1}
if [[ -n "${SMOKE:-}" ]]; then
  CH=${CH:-4}; BATCH=${BATCH:-4}; DSTEPS=${DSTEPS:-1}; ITERS=${ITERS:-2}
  EMA_DECAY=${EMA_DECAY:-0.9}; EMA_START=${EMA_START:-1}; LECAM_START=${LECAM_START:-1}
  FID_SAMPLES=${FID_SAMPLES:-200}; FID_REAL=${FID_REAL:-200}; EVALS=${EVALS:-2}
fi
CH=${CH:-8}
BATCH=${BATCH:-16}
DSTEPS=${DSTEPS:-1}
ITERS=${ITERS:-500}
EMA_DECAY=${EMA_DECAY:-0.98}
EMA_START=${EMA_START:-5}
LECAM_START=${LECAM_START:-5}
FID_SAMPLES=${FID_SAMPLES:-5000}
FID_REAL=${FID_REAL:-10000}
EVALS=${EVALS:-2}
(( ITERS % EVALS == 0 )) || { echo "ITERS ($ITERS) must be a multiple of EVALS ($EVALS)" >&2; exit 2; }
[[ -f "$FMNIST/train-images-idx3-ubyte.gz" ]] || { echo "no Fashion-MNIST at $FMNIST: apt-get install -y dataset-fashion-mnist" >&2; exit 2; }
if [[ -z "${RESNET18_ONNX:-}" ]]; then
  PKG=${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels
  # The package is referenced by the ONNX demo project only; restoring it brings the model into the NuGet cache.
  [[ -f "$PKG/ResNet18Onnx/ResNet18.onnx" ]] || dotnet restore tools/onnx/VkD.OnnxDistillDemo >/dev/null
  RESNET18_ONNX="$PKG/ResNet18Onnx/ResNet18.onnx"
fi
[[ -f "$RESNET18_ONNX" ]] || { echo "no ResNet-18 ONNX at $RESNET18_ONNX" >&2; exit 2; }
TEACHER="onnx:$RESNET18_ONNX?preset=mlnet-resnet18&threads=$THREADS&sessions=1"
mkdir -p "$OUT"
COSTS="$OUT/costs.tsv"
[[ -f "$COSTS" ]] || printf 'fraction\tvariant\tseed\twall_s\n' > "$COSTS"
cat > "$OUT/settings.json" <<JSON
{"smoke": $([[ -n "${SMOKE:-}" ]] && echo true || echo false), "fractions": "$FRACTIONS", "variants": "$VARIANTS", "seeds": "$SEEDS", "ch": $CH,
 "batch": $BATCH, "d_steps": $DSTEPS, "iterations": $ITERS, "ema_decay": $EMA_DECAY, "ema_start": $EMA_START,
 "lecam_start": $LECAM_START, "fid_samples": $FID_SAMPLES, "fid_real": $FID_REAL, "evals": $EVALS, "parallel": $PARALLEL,
 "threads": $THREADS, "teacher": "ResNet18.onnx (mlnet-resnet18 preset, 224 px)", "nproc": $(nproc)}
JSON

run() {
  local fraction=$1 variant=$2 seed=$3
  local dir="$OUT/f$fraction/$variant/seed$seed"
  if [[ -f "$dir/summary.json" && -f "$dir/samples.png" ]]; then
    echo "f$fraction $variant seed $seed: done earlier"
    return
  fi
  mkdir -p "$dir"
  local common=(--data-set fashion-mnist --data-path "$FMNIST" --data-fraction "$fraction" --seed "$seed" --ch "$CH"
                --batch-size "$BATCH" --d-steps "$DSTEPS" --iterations "$ITERS" --ema-decay "$EMA_DECAY" --ema-start "$EMA_START"
                --lecam-start "$LECAM_START" --fid-samples "$FID_SAMPLES" --fid-real "$FID_REAL" --epoch-iterations $((ITERS / EVALS))
                --save-every 0 --save-every-iters 25 --threads "$THREADS" --output-dir "$dir" --resume auto)
  local start=$SECONDS
  local cmd
  if [[ $variant == none ]]; then
    cmd=("$VKD" gan train "${common[@]}")
  else
    cmd=("$VKD" gan distill "${common[@]}" --teacher "$TEACHER" --teacher-norm "$variant")
  fi
  if ! "${cmd[@]}" > "$dir.log" 2>&1; then
    echo "f$fraction $variant seed $seed: FAILED, see $dir.log" >&2
    tail -5 "$dir.log" >&2
    return 1
  fi
  printf '%s\t%s\t%s\t%s\n' "$fraction" "$variant" "$seed" "$((SECONDS - start))" >> "$COSTS"
  echo "f$fraction $variant seed $seed: $((SECONDS - start)) s; $(tail -2 "$dir.log" | head -1)"
}

start_all=$SECONDS
failed=0
jobs_running=0
for fraction in $FRACTIONS; do
  for variant in $VARIANTS; do
    for seed in $SEEDS; do
      run "$fraction" "$variant" "$seed" &
      jobs_running=$((jobs_running + 1))
      if (( jobs_running >= PARALLEL )); then
        wait -n || failed=1
        jobs_running=$((jobs_running - 1))
      fi
    done
  done
done
while (( jobs_running > 0 )); do
  wait -n || failed=1
  jobs_running=$((jobs_running - 1))
done
echo "all runs: $((SECONDS - start_all)) s wall"
/usr/bin/python3 tools/results/summarize_generation_results.py "$OUT" > "$OUT/results-generation.md"
echo "wrote $OUT/results-generation.md"
exit $failed
