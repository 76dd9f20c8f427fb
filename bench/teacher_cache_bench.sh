#!/usr/bin/env bash
# Teacher-output cache (docs/benchmarks.md, "Teacher-output cache"): the same `vkd sweep` of a distillation without
# the cache and with K = 1 and K = 2 recorded augmentations per image, and the student trained alone, on Fashion-MNIST: resnet8 <- the shipped
# resnet32 teacher (KD + VkD feature term, the default `vkd distill` loss), 6000 training images (600 per class), all
# 10000 test images, 4 epochs, batch 64, mixup/cutmix off (the cache needs it), one thread per seed, seeds run in
# parallel. Prints, per setting: last top-1 mean ± std and per seed (from sweep.json), the mean seconds of each epoch
# over the seeds (from each seed's epochs.csv), and the cache's size on disk.
#
# Needs: apt-get install -y dataset-fashion-mnist. Usage: bench/teacher_cache_bench.sh [OUT]
# (VKD=path/to/vkd for a prebuilt binary; SEEDS=0,1,2 EPOCHS=4 TRAIN_SUBSET=6000 PARALLEL=3)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/vkd-teacher-cache-bench}
SEEDS=${SEEDS:-0,1,2}
EPOCHS=${EPOCHS:-4}
TRAIN_SUBSET=${TRAIN_SUBSET:-6000}
PARALLEL=${PARALLEL:-3}
if [[ -z "${VKD:-}" ]]; then
  dotnet build src/VkD.Cli -c Release >/dev/null
  VKD=src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd
fi
mkdir -p "$OUT"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| setting | last top-1 (%) mean ± std | per seed | seconds per epoch (mean over seeds) | cache on disk |"
echo "| --- | --- | --- | --- | --- |"
for setting in none k1 k2 student; do
  dir="$OUT/$setting"
  cache=()
  case $setting in
    k1) cache=(--teacher-cache "$OUT/cache-k1" --teacher-cache-draws 1) ;;
    k2) cache=(--teacher-cache "$OUT/cache-k2" --teacher-cache-draws 2) ;;
  esac
  # "student": the student alone (vkd train, no teacher), the floor a replayed epoch is held against.
  cmd=(distill --teacher resnet32 --teacher-path assets/teachers/resnet32_fmnist_mini.pth --student-model resnet8)
  [[ $setting == student ]] && cmd=(train --model resnet8)
  if [[ ! -f "$dir/sweep.json" ]]; then
    "$VKD" sweep --seeds "$SEEDS" --parallel "$PARALLEL" -- "${cmd[@]}" --data-set fashion-mnist --data-path /usr/share/datasets/fashion-mnist --train-subset "$TRAIN_SUBSET" \
      --eval-subset 0 --epochs "$EPOCHS" --batch-size 64 --lr 2e-3 --min-lr 1e-5 --weight-decay 0.05 --mixup 0 --cutmix 0 \
      --smoothing 0.1 --threads 1 --num-workers 1 --save-every 0 "${cache[@]}" --output-dir "$dir" > "$dir.log" 2>&1
  fi
  size=$([[ ${#cache[@]} -gt 0 ]] && du -sh --apparent-size "${cache[1]}" | cut -f1 || echo "-")
  /usr/bin/python3 - "$dir" "$setting" "$size" <<'PY'
import csv, glob, json, statistics, sys
d, setting, size = sys.argv[1:]
s = json.load(open(f"{d}/sweep.json"))
last = [p["last_acc1"] for p in s["per_seed"]]
epochs = [[float(r["seconds"]) for r in csv.DictReader(open(f))] for f in sorted(glob.glob(f"{d}/seed*/epochs.csv"))]
per_epoch = [statistics.mean(col) for col in zip(*epochs)]
print(f"| {setting} | {statistics.mean(last):.2f} ± {statistics.stdev(last):.2f} | {', '.join(f'{v:.2f}' for v in last)} | "
      f"{' / '.join(f'{v:.1f}' for v in per_epoch)} | {size} |")
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
