#!/usr/bin/env bash
# Produces docs/results.md: a teacher trained with `vkd train`, then the same small student distilled four ways
# (no KD, logit KD, VkD with a plain linear projector, VkD with the orthogonal projector + layer norm), 3 seeds each.
#
# Data: Debian's Fashion-MNIST (apt-get install -y dataset-fashion-mnist): the first 5000 training images, all 10000
# test images. Models: teacher resnet32 (CIFAR ResNet, 0.47M params, 64-d features), student resnet8 (78k params,
# 64-d features), 28x28 grey input. Sized for ~40 minutes on a shared 2-core machine (one intra-op thread per run).
#
# Usage: tools/results/run_results.sh [OUT_DIR]   (VKD=path/to/vkd to use a prebuilt binary; PARALLEL=3 runs three
# seeds at a time as child processes)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vkd-results}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
if [[ -z "${VKD:-}" ]]; then
  dotnet build src/VkD.Cli -c Release >/dev/null
  VKD=src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd
fi
TEACHER_EPOCHS=${TEACHER_EPOCHS:-8}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-4}
SEEDS=${SEEDS:-"0 1 2"}
TRAIN_SUBSET=${TRAIN_SUBSET:-5000}   # 0 = the full 60000 training images
VARIANTS=${VARIANTS:-"no_kd logit_kd vkd_linear vkd"}
mkdir -p "$OUT"
COMMON=(--data-set fashion-mnist --data-path "$DATA" --train-subset "${TRAIN_SUBSET:-5000}" --batch-size 64 --lr 2e-3 --min-lr 1e-5
        --weight-decay 0.05 --mixup 0 --cutmix 0 --smoothing 0.1 --threads 1 --num-workers 1 --save-every 0)

# TEACHER_DIR: reuse the output folder of an earlier `vkd train` of resnet32 (e.g. the quickstart teacher's run)
# instead of training one here.
if [[ "$VARIANTS" == "no_kd" ]]; then
  :  # the no-KD baseline needs no teacher, so it can run while the teacher trains
elif [[ -n "${TEACHER_DIR:-}" ]]; then
  mkdir -p "$OUT/teacher" && cp "$TEACHER_DIR/model.pth" "$TEACHER_DIR/summary.json" "$OUT/teacher/"
elif [[ ! -f "$OUT/teacher/model.pth" ]]; then
  "$VKD" train --model resnet32 --epochs "$TEACHER_EPOCHS" --seed 0 "${COMMON[@]}" --output-dir "$OUT/teacher" > "$OUT/teacher.log" 2>&1
fi

# One `vkd sweep` per variant: seed K runs in $OUT/<variant>/seedK (finished seeds are skipped, killed ones resume),
# and $OUT/<variant>/sweep.md holds mean ± std, the config and the software. PARALLEL seeds run at a time.
for variant in $VARIANTS; do
  dir="$OUT/$variant"
  [[ -f "$dir/sweep.json" ]] && continue
  case $variant in
    no_kd)      flags=() ;;
    logit_kd)   flags=(--alpha 0 --gamma 1) ;;
    vkd_linear) flags=(--alpha 1 --gamma 1 --projector linear --norm layernorm) ;;
    vkd)        flags=(--alpha 1 --gamma 1 --projector householder --norm layernorm) ;;
    # The orthogonal W with a learnable per-channel scale and bias (ViDT's OrthogonalLinear): tests whether the
    # square case's gap to the linear projector is the scale an orthogonal W cannot give (docs/results.md).
    vkd_scaled) flags=(--alpha 1 --gamma 1 --projector scaled --norm layernorm) ;;
  esac
  if [[ $variant == no_kd ]]; then
    cmd=(train --model resnet8)  # the no-KD baseline is plain supervised training: same student, data, schedule, seed
  else
    cmd=(distill --teacher resnet32 --teacher-path "$OUT/teacher/model.pth" --student-model resnet8)
  fi
  "$VKD" sweep --seeds "${SEEDS// /,}" --parallel "${PARALLEL:-1}" -- "${cmd[@]}" \
    --epochs "$STUDENT_EPOCHS" --eval-every 100 "${COMMON[@]}" "${flags[@]}" \
    --output-dir "$dir" > "$dir.log" 2>&1 || { echo "sweep $variant failed, see $dir.log" >&2; exit 1; }
done

# The teacher's accuracy on the same test images as the students.
if [[ -f "$OUT/teacher/model.pth" && ! -f "$OUT/teacher/eval.json" ]]; then
  "$VKD" eval --model resnet32 --student-ckpt "$OUT/teacher/model.pth" --data-set fashion-mnist --data-path "$DATA" \
    --input-size 28 --threads 1 --num-workers 1 --json "$OUT/teacher/eval.json" > "$OUT/teacher-eval.log" 2>&1
fi
if [[ -f "$OUT/teacher/summary.json" ]]; then
  python3 tools/results/summarize_results.py "$OUT" > docs/results.md
  echo "wrote docs/results.md"
fi
