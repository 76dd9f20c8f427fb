#!/usr/bin/env bash
# Produces docs/results-detection.md: a ViDT teacher (Swin-tiny) trained with `vkd detect train`, then Swin-nano ViDT
# students trained three ways (no distillation, ViDT's token matching, VkD's six projected pairs) from it, the same
# epochs and seeds for each, on generated detection scenes; COCO AP/AP50/AP75 with the spread over seeds.
#
# Data: `vkd data make-detection` scenes of Fashion-MNIST objects (Debian's dataset-fashion-mnist, test split glyphs,
# tinted) on noise canvases: TRAIN_IMAGES training and VAL_IMAGES val images of SIZE x SIZE, 1-4 objects each, 10
# classes (COCO ids 1..10, so --num_classes 11). Models: ViDT with box refinement and aux losses, 100 [DET] tokens,
# 6 decoder layers, ViDT's recipe (AdamW 1e-4, wd 1e-4, clip 0.1, lagged per-epoch cosine to 1e-7), random init
# (--pre_trained none: ImageNet Swin weights cannot be downloaded here), train recipe scaled to SIZE (--train_size).
# Sized (defaults below) for about 85 minutes on an idle 2-core machine (measured step rates at 128 px, batch 4, two
# threads: Swin-nano ~3.7 img/s, Swin-tiny ~2.5 img/s, nano with the tiny teacher ~2.7 img/s).
#
# Usage: tools/results/run_detection_results.sh [OUT_DIR]      (VKD=path/to/vkd to use a prebuilt binary)
#        SMOKE=1 tools/results/run_detection_results.sh          (a few steps of everything, minutes; not evidence)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vkd-detection-results}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
if [[ -z "${VKD:-}" ]]; then
  dotnet build src/VkD.Cli -c Release >/dev/null
  VKD=src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd
fi
if [[ "${SMOKE:-0}" == 1 ]]; then
  : "${TRAIN_IMAGES:=16}" "${VAL_IMAGES:=8}" "${TEACHER_EPOCHS:=1}" "${STUDENT_EPOCHS:=1}"
fi
TRAIN_IMAGES=${TRAIN_IMAGES:-320}
VAL_IMAGES=${VAL_IMAGES:-64}
SIZE=${SIZE:-128}
BATCH=${BATCH:-4}
THREADS=${THREADS:-2}
TEACHER_BACKBONE=${TEACHER_BACKBONE:-swin_tiny}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-8}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-6}
SEEDS=${SEEDS:-"0 1"}
VARIANTS=${VARIANTS:-"no_distill vidt_token_matching vkd"}
mkdir -p "$OUT"

for split in train val; do
  if [[ ! -f "$OUT/data/$split/annotations.json" ]]; then
    count=$([[ $split == train ]] && echo "$TRAIN_IMAGES" || echo "$VAL_IMAGES")
    seed=$([[ $split == train ]] && echo 1 || echo 2)
    "$VKD" data make-detection --source idx --images "$DATA/t10k-images-idx3-ubyte.gz" --labels "$DATA/t10k-labels-idx1-ubyte.gz" \
      --class-names fashion-mnist --out "$OUT/data/$split" --count "$count" --width "$SIZE" --height "$SIZE" \
      --min-objects 1 --max-objects 4 --min-size $((SIZE / 5)) --max-size $((SIZE / 2)) --seed "$seed" > "$OUT/data-$split.log"
  fi
done

# ViDT's README training command, minus the launcher; the same for every run except the backbone, seed and teacher.
COMMON=(--method vidt --lr 1e-4 --min-lr 1e-7 --batch_size "$BATCH" --num_workers 2 --aux_loss True --with_box_refine True
        --coco_path "$OUT/data" --pre_trained none --num_classes 11 --train_size "$SIZE" --eval_size "$SIZE"
        --threads "$THREADS" --save-every 0 --print_freq 10)

if [[ ! -f "$OUT/teacher/summary.json" ]]; then
  "$VKD" detect train --backbone_name "$TEACHER_BACKBONE" --epochs "$TEACHER_EPOCHS" --seed 0 "${COMMON[@]}" \
    --output_dir "$OUT/teacher" > "$OUT/teacher.log" 2>&1 || { echo "teacher run failed, see $OUT/teacher.log" >&2; exit 1; }
fi

for seed in $SEEDS; do
  for variant in $VARIANTS; do
    dir="$OUT/$variant/seed$seed"
    [[ -f "$dir/summary.json" ]] && continue
    mkdir -p "$(dirname "$dir")"
    case $variant in
      no_distill)          cmd=(train) ;;
      vidt_token_matching) cmd=(distill --distil_model vidt --distil_model_path "$OUT/teacher/checkpoint.pth" --distil_loss_coef 4.0) ;;
      vkd)                 cmd=(distill --distil_model vkd --distil_model_path "$OUT/teacher/checkpoint.pth" --distil_loss_coef 4.0) ;;
    esac
    # --resume auto: a run cut short (kill, reboot) continues where its last checkpoint left it.
    "$VKD" detect "${cmd[@]}" --backbone_name swin_nano --epochs "$STUDENT_EPOCHS" --seed "$seed" "${COMMON[@]}" \
      --output_dir "$dir" --resume auto > "$dir.log" 2>&1 || { echo "run $variant seed $seed failed, see $dir.log" >&2; exit 1; }
  done
done

python3 tools/results/summarize_detection_results.py "$OUT" > "$OUT/results-detection.md"
if [[ "${SMOKE:-0}" != 1 ]]; then
  cp "$OUT/results-detection.md" docs/results-detection.md
  echo "wrote docs/results-detection.md"
else
  echo "smoke run: wrote $OUT/results-detection.md (not evidence; docs/ left alone)"
fi
