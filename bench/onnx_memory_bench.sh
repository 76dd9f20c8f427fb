#!/usr/bin/env bash
# Peak RSS of a frozen teacher (issue 17, "Memory"): TorchSharp against ONNX Runtime with each memory setting off,
# one process per configuration (peak RSS is a per-process figure), under the allocator the vkd launcher uses.
# Usage: bench/onnx_memory_bench.sh [MODEL] [BATCH]      (default regnety_160 16)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-regnety_160}
BATCH=${2:-16}
dotnet build bench/VkD.Bench -c Release >/dev/null
dotnet build src/VkD.Cli -c Release >/dev/null
ONNX=$(mktemp -d)/teacher.onnx
trap 'rm -rf "$(dirname "$ONNX")"' EXIT
# A file exported beforehand, so the ort-file row is ONNX Runtime alone (no export and no TorchSharp model in it).
src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd export -m "$MODEL" --random-weights --no-verify -o "$ONNX" >/dev/null
BENCH=bench/VkD.Bench/bin/Release/net10.0/linux-x64/VkD.Bench.dll
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| config | teacher | batch | RSS of the loaded teacher (MB) | RSS after the forwards (MB) | peak RSS (MB) | img/s (best forward) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for config in ${CONFIGS:-torch ort-file ort ort-no-arena ort-no-pattern ort-no-prepack ort-lean}; do
  if [[ -f $JEMALLOC ]]; then
    LD_PRELOAD=$JEMALLOC MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 OMP_WAIT_POLICY=passive \
      dotnet "$BENCH" onnx-memory --model "$MODEL" --batch "$BATCH" --config "$config" --onnx "$ONNX"
  else
    OMP_WAIT_POLICY=passive dotnet "$BENCH" onnx-memory --model "$MODEL" --batch "$BATCH" --config "$config" --onnx "$ONNX"
  fi
done
