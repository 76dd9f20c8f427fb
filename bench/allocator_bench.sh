#!/usr/bin/env bash
# Allocator benchmark (docs/benchmarks.md, "Allocator"): the same short `vkd distill` VkD step run (deit_ti_distilled
# student, RegNetY-160 teacher with random weights, batch 16, 224 px, 2 threads, 6 steps + a 16-image evaluation) under
# glibc's malloc, glibc tuned never to unmap (and to trim only above 256 MB), jemalloc with its default decay and jemalloc with decay off (what the
# vkd launcher uses), each measured by GNU time: minor page faults, user/system CPU seconds, peak RSS, wall time and
# the seconds of each step from iterations.csv.
#
# Needs: apt-get install -y time libjemalloc2 tuxpaint-stamps-default python3-pil; the Tux Paint photo set
# (tools/onnx/make_tuxpaint_photos.py). Usage: bench/allocator_bench.sh [OUT]   (VKD=path/to/vkd for a prebuilt binary;
# TRAIN_SUBSET=16 for a one-step check of the script, default 96 = 6 steps)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/vkd-allocator-bench}
PHOTOS=${PHOTOS:-$HOME/.cache/vkd/tuxpaint-photos}
JEMALLOC=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
if [[ -z "${VKD:-}" ]]; then
  dotnet build src/VkD.Cli -c Release >/dev/null
  VKD=src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd
fi
mkdir -p "$OUT"
[[ -d "$PHOTOS/train" ]] || /usr/bin/python3 tools/onnx/make_tuxpaint_photos.py --out "$PHOTOS" >/dev/null
# A RegNetY-160 checkpoint with random weights (nothing can be downloaded here): one training step writes model.pth.
if [[ ! -f "$OUT/teacher/model.pth" ]]; then
  VKD_ALLOCATOR=system "$VKD" train --model regnety_160 --data-path "$PHOTOS" --train-subset 16 --eval-subset 16 --epochs 1 \
    --batch-size 16 --threads 2 --output-dir "$OUT/teacher" > "$OUT/teacher.log" 2>&1
fi

run() {
  local name=$1; shift
  rm -rf "${OUT:?}/$name"
  env "$@" /usr/bin/time -v "$VKD" distill --student-model deit_ti_distilled --teacher regnety_160 --teacher-path "$OUT/teacher/model.pth" \
    --data-path "$PHOTOS" --train-subset "${TRAIN_SUBSET:-96}" --eval-subset 16 --epochs 1 --batch-size 16 --threads 2 \
    --output-dir "$OUT/$name" > "$OUT/$name.log" 2> "$OUT/$name.time"
  local faults user sys rss wall steps
  faults=$(sed -n 's/.*Minor (reclaiming a frame) page faults: //p' "$OUT/$name.time")
  user=$(sed -n 's/.*User time (seconds): //p' "$OUT/$name.time")
  sys=$(sed -n 's/.*System time (seconds): //p' "$OUT/$name.time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/$name.time")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/$name.time")
  steps=$(python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(' '.join(f\"{float(x['seconds']):.1f}\" for x in r))" "$OUT/$name/iterations.csv")
  printf '| %s | %s | %s | %s | %.2f | %s | %s |\n' "$name" "$faults" "$user" "$sys" "$(echo "$rss / 1048576" | bc -l)" "$wall" "$steps"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| allocator | minor faults | user s | system s | peak RSS GB | wall | step seconds |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
run glibc VKD_ALLOCATOR=system
run glibc-no-unmap VKD_ALLOCATOR=system GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
run glibc-trim-256mb VKD_ALLOCATOR=system GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=268435456
run jemalloc-default-decay LD_PRELOAD="$JEMALLOC" MALLOC_CONF=background_thread:false
run jemalloc-decay-off VKD_ALLOCATOR=jemalloc
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
