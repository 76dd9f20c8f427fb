#!/usr/bin/env bash
# The method comparison of issue 16, over `vkd sweep` only (every number comes from a sweep.json written by vkd):
#
#  (a) Fashion-MNIST, all 10000 test images and by default 6000 of the 60000 training images (600 per class, drawn
#      with each seed; FMNIST_TRAIN_SUBSET=0 trains on all 60000, 10x this part's training cost), 2 epochs
#      (Debian: apt-get install -y dataset-fashion-mnist):
#      teacher resnet32 (the shipped assets/teachers/resnet32_fmnist_mini.pth, or TEACHER=train to train one here),
#      students resnet8 (CNN, 64-d) and deit_nano_patch4_32 (ViT, 128-d), every method of `vkd distill
#      --distill-method` plus the no-KD baseline and the linear-projector ablation of VkD.
#  (b) real photos: the ImageNet ResNet-18 of NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 (ONNX, feature-only,
#      512-d) teaching the same two students (64-d and 128-d, so d_s < d_t) on the Tux Paint photo set
#      (apt-get install -y tuxpaint-stamps-default; tools/onnx/make_tuxpaint_photos.py). A feature-only teacher has
#      no logits and no stage maps, so only the methods that read pooled features apply: VkD (orthogonal / linear x
#      layernorm / none), RKD, PKT, CRD, and SRD's feature term (with --gamma 0, as VkD); KD, DKD and DIST (logits),
#      FitNets and AT (stage maps) are refused by vkd before the first step, naming what the teacher lacks.
#
# Each (setting, student, method) is one `vkd sweep --seeds $SEEDS --parallel $PARALLEL -- train|distill ...` in
# $OUT/<setting>/<student>/<method>; a rerun skips finished sweeps and finished seeds and resumes killed ones.
# Each sweep's cost (wall seconds of this script, and the sum of its seeds' run times) is printed and kept in
# $OUT/costs.tsv; tools/results/summarize_method_results.py turns everything into $OUT/method-results.md.
#
# Usage: tools/results/run_method_results.sh [OUT_DIR]        (VKD=path/to/vkd to use a prebuilt binary)
# Cost: sized for < 2 h on an idle 2-core machine (an estimate from the smoke run's throughput, see docs/results.md;
# not measured). Fashion-MNIST runs the teacher on every training image of every epoch; the photo part records the
# ResNet-18's outputs once per seed in a teacher-output cache and replays them in every later sweep of that seed.
# Knobs (environment), defaults = the full run:
#   PARTS="fmnist photos"  SEEDS=0,1,2  PARALLEL=3 (all seeds at once: on 2 cores no seed waits for a free one)  THREADS=1
#   FMNIST_EPOCHS=2  FMNIST_TRAIN_SUBSET=6000 (0 = all 60000)  FMNIST_EVAL_SUBSET=0 (0 = all 10000)
#   FMNIST_STUDENTS="resnet8 deit_nano_patch4_32"  FMNIST_METHODS="none kd dkd dist fitnet at rkd pkt crd srd vkd vkd_linear"
#   PHOTO_EPOCHS=6  PHOTO_TRAIN_SUBSET=0 (all 750)  PHOTO_EVAL_SUBSET=0 (all 198)  PHOTO_STUDENTS="resnet8 deit_nano_patch4_32"
#   PHOTO_METHODS="none vkd vkd_linear vkd_nonorm vkd_linear_nonorm rkd pkt crd srd"
#   TEACHER=shipped|train (TEACHER_EPOCHS=8)   RESNET18_ONNX=path (default: found in the NuGet cache, restored if absent)
#   PHOTOS=~/.cache/vkd/tuxpaint-photos (made here if absent)   PHOTO_TEACHER_CACHE=1 (0: the teacher runs every step)
#   PHOTO_AUG="" (extra crop-recipe flags, e.g. "--scale-min 0.5 --no-three-augment")
#   PHOTO_CACHE_DRAWS=$PHOTO_EPOCHS (fewer: K augmentations per image cycled, the teacher run K times per image)
#   SMOKE=1 marks the summary as a smoke run (not results)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vkd-method-results}
if [[ -z "${VKD:-}" ]]; then
  dotnet build src/VkD.Cli -c Release >/dev/null
  VKD=src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd
fi
PARTS=${PARTS:-"fmnist photos"}
SEEDS=${SEEDS:-0,1,2}
PARALLEL=${PARALLEL:-3}
THREADS=${THREADS:-1}
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
FMNIST_EPOCHS=${FMNIST_EPOCHS:-2}
FMNIST_TRAIN_SUBSET=${FMNIST_TRAIN_SUBSET:-6000}
FMNIST_EVAL_SUBSET=${FMNIST_EVAL_SUBSET:-0}
FMNIST_STUDENTS=${FMNIST_STUDENTS:-"resnet8 deit_nano_patch4_32"}
FMNIST_METHODS=${FMNIST_METHODS:-"none kd dkd dist fitnet at rkd pkt crd srd vkd vkd_linear"}
PHOTO_EPOCHS=${PHOTO_EPOCHS:-6}
PHOTO_STUDENTS=${PHOTO_STUDENTS:-"resnet8 deit_nano_patch4_32"}
PHOTO_METHODS=${PHOTO_METHODS:-"none vkd vkd_linear vkd_nonorm vkd_linear_nonorm rkd pkt crd srd"}
PHOTO_TRAIN_SUBSET=${PHOTO_TRAIN_SUBSET:-0}
PHOTO_EVAL_SUBSET=${PHOTO_EVAL_SUBSET:-0}
PHOTOS=${PHOTOS:-$HOME/.cache/vkd/tuxpaint-photos}
TEACHER=${TEACHER:-shipped}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-8}
mkdir -p "$OUT"
COSTS="$OUT/costs.tsv"
[[ -f "$COSTS" ]] || printf 'setting\tstudent\tmethod\twall_s\tseed_run_s\n' > "$COSTS"

# One sweep, its cost printed and recorded. $1 setting, $2 student, $3 method, then the command and its flags.
sweep() {
  local setting=$1 student=$2 method=$3
  shift 3
  local dir="$OUT/$setting/$student/$method"
  if [[ -f "$dir/sweep.json" ]]; then
    echo "$setting $student $method: done earlier ($dir/sweep.json)"
    return
  fi
  mkdir -p "$dir"
  local start=$SECONDS
  if ! "$VKD" sweep --seeds "$SEEDS" --parallel "$PARALLEL" -- "$@" --threads "$THREADS" --num-workers 1 --save-every 0 \
        --output-dir "$dir" > "$dir.log" 2>&1; then
    echo "$setting $student $method: FAILED, see $dir.log" >&2
    tail -5 "$dir.log" >&2
    return 1
  fi
  local wall=$((SECONDS - start))
  local runs
  runs=$(/usr/bin/python3 -c 'import json,sys; print(round(sum(s["seconds"] or 0 for s in json.load(open(sys.argv[1]))["per_seed"])))' "$dir/sweep.json")
  printf '%s\t%s\t%s\t%s\t%s\n' "$setting" "$student" "$method" "$wall" "$runs" >> "$COSTS"
  echo "$setting $student $method: $wall s wall ($runs s of seed runs, $PARALLEL at a time); $(grep '^| last top-1' "$dir/sweep.md")"
}

# Flags of each method on top of the setting's recipe. Published defaults, except where noted in docs/results.md:
# KD at T = 4 (mdistiller's CIFAR setting), DKD's warm-up of 20 of 240 epochs shortened to 1 epoch, CRD with 4096
# negatives instead of 16384 (memory and time on CPU).
method_flags() {
  case $1 in
    kd)                echo "--distill-method kd --gamma 1 --temperature 4" ;;
    dkd)               echo "--distill-method dkd --method-options warmup=1" ;;
    dist)              echo "--distill-method dist" ;;
    fitnet)            echo "--distill-method fitnet" ;;
    at)                echo "--distill-method at" ;;
    rkd)               echo "--distill-method rkd" ;;
    pkt)               echo "--distill-method pkt" ;;
    crd)               echo "--distill-method crd --method-options k=4096" ;;
    srd)               echo "--distill-method srd" ;;
    vkd)               echo "--distill-method vkd --alpha 1 --projector householder --norm layernorm" ;;
    vkd_linear)        echo "--distill-method vkd --alpha 1 --projector linear --norm layernorm" ;;
    vkd_nonorm)        echo "--distill-method vkd --alpha 1 --projector householder --norm none" ;;
    vkd_linear_nonorm) echo "--distill-method vkd --alpha 1 --projector linear --norm none" ;;
    *) echo "unknown method $1" >&2; return 1 ;;
  esac
}

if [[ " $PARTS " == *" fmnist "* ]]; then
  [[ -d "$FMNIST" ]] || { echo "no Fashion-MNIST at $FMNIST: apt-get install -y dataset-fashion-mnist" >&2; exit 2; }
  # The CNN recipe of tools/results/run_results.sh, for every student and method alike.
  RECIPE=(--data-set fashion-mnist --data-path "$FMNIST" --train-subset "$FMNIST_TRAIN_SUBSET" --eval-subset "$FMNIST_EVAL_SUBSET"
          --epochs "$FMNIST_EPOCHS" --batch-size 64 --lr 2e-3 --min-lr 1e-5 --weight-decay 0.05 --mixup 0 --cutmix 0 --smoothing 0.1)
  case $TEACHER in
    shipped) FMNIST_TEACHER=assets/teachers/resnet32_fmnist_mini.pth ;;
    train)
      FMNIST_TEACHER="$OUT/fmnist/teacher/model.pth"
      if [[ ! -f "$FMNIST_TEACHER" ]]; then
        start=$SECONDS
        "$VKD" train --model resnet32 --seed 0 "${RECIPE[@]}" --epochs "$TEACHER_EPOCHS" --threads "$(nproc)" \
          --num-workers 1 --save-every 0 --output-dir "$OUT/fmnist/teacher" > "$OUT/fmnist/teacher.log" 2>&1
        echo "fmnist teacher resnet32: $((SECONDS - start)) s wall"
      fi ;;
    *) echo "TEACHER=$TEACHER: use shipped or train" >&2; exit 2 ;;
  esac
  for student in $FMNIST_STUDENTS; do
    for method in $FMNIST_METHODS; do
      if [[ $student == deit_nano_patch4_32 && ( $method == vkd || $method == vkd_nonorm ) ]]; then
        # An orthogonal projector maps d_s into d_t with orthonormal columns, so it needs d_s <= d_t; this ViT's 128-d
        # features are wider than resnet32's 64 (vkd distill refuses the pair). Its linear ablation runs.
        echo "fmnist $student $method: not run, the orthogonal projector needs d_s <= d_t (128 > 64)"
        continue
      fi
      if [[ $method == none ]]; then
        sweep fmnist "$student" none train --model "$student" "${RECIPE[@]}"
      else
        # shellcheck disable=SC2046 # the method's flags are words
        sweep fmnist "$student" "$method" distill --teacher resnet32 --teacher-path "$FMNIST_TEACHER" --student-model "$student" \
          "${RECIPE[@]}" $(method_flags "$method")
      fi
    done
  done
fi

if [[ " $PARTS " == *" photos "* ]]; then
  if [[ -z "${RESNET18_ONNX:-}" ]]; then
    PKG=${NUGET_PACKAGES:-$HOME/.nuget/packages}/microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels
    # The package is referenced by the ONNX demo project only; restoring it brings the model into the NuGet cache.
    [[ -f "$PKG/ResNet18Onnx/ResNet18.onnx" ]] || dotnet restore tools/onnx/VkD.OnnxDistillDemo >/dev/null
    RESNET18_ONNX="$PKG/ResNet18Onnx/ResNet18.onnx"
  fi
  [[ -f "$RESNET18_ONNX" ]] || { echo "no ResNet-18 ONNX at $RESNET18_ONNX" >&2; exit 2; }
  [[ -d "$PHOTOS/train" ]] || /usr/bin/python3 tools/onnx/make_tuxpaint_photos.py --out "$PHOTOS"
  # The photo demo's recipe (docs/results-onnx.md): 32 px students, SGD (Nesterov) lr 0.05, wd 5e-4, batch 64. The
  # teacher is fed the same augmented crop at its own 224 px; it has no logits, so gamma is 0 for VkD.
  PHOTO_TEACHER="onnx:$RESNET18_ONNX?preset=mlnet-resnet18&threads=$THREADS&sessions=1"
  RECIPE=(--data-path "$PHOTOS" --input-size 32 --train-subset "$PHOTO_TRAIN_SUBSET" --eval-subset "$PHOTO_EVAL_SUBSET"
          --epochs "$PHOTO_EPOCHS" --batch-size 64 --opt sgd --momentum 0.9 --lr 0.05 --min-lr 1e-5 --weight-decay 5e-4
          --mixup 0 --cutmix 0 --smoothing 0.1 ${PHOTO_AUG:-})
  # The teacher-output cache (docs/distillation.md): one fresh augmentation per epoch as without it (K = epochs), and
  # the records are keyed by teacher, data, seed and augmentation, not by method or student. So the first distilled
  # sweep of each seed runs the teacher and every later one replays it. PHOTO_TEACHER_CACHE=0 runs the teacher
  # every step.
  CACHE=()
  [[ ${PHOTO_TEACHER_CACHE:-1} == 1 ]] && CACHE=(--teacher-cache "$OUT/photos/teacher-cache" --teacher-cache-draws "${PHOTO_CACHE_DRAWS:-$PHOTO_EPOCHS}")
  for student in $PHOTO_STUDENTS; do
    for method in $PHOTO_METHODS; do
      if [[ $method == none ]]; then
        sweep photos "$student" none train --model "$student" "${RECIPE[@]}"
      else
        extra=("${CACHE[@]}")
        [[ $method == vkd* || $method == srd ]] && extra+=(--gamma 0)  # their logit-KD term needs teacher logits
        # shellcheck disable=SC2046
        sweep photos "$student" "$method" distill --teacher "$PHOTO_TEACHER" --student-model "$student" "${RECIPE[@]}" \
          $(method_flags "$method") "${extra[@]}"
      fi
    done
  done
fi

/usr/bin/python3 tools/results/summarize_method_results.py "$OUT" ${SMOKE:+--smoke} > "$OUT/method-results.md"
echo "wrote $OUT/method-results.md"
