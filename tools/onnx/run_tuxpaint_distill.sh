#!/usr/bin/env bash
# Reproduces docs/results-onnx.md: ImageNet ResNet-18 (ONNX, ML.NET DnnImageFeaturizer) as a feature-only teacher for a
# small zoo student on real photo cut-outs (Debian tuxpaint-stamps-default), against the same student without it.
#   sudo apt-get install -y tuxpaint-stamps-default
#   tools/onnx/run_tuxpaint_distill.sh [extra demo options, e.g. --seeds 0,1,2 --epochs 15]
# The NuGet restore of the demo project fetches Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (60 MB) into the NuGet
# cache; teacher features are cached in ~/.cache/vkd/tuxpaint-photos/resnet18-onnx-features.bin after the first run.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d ~/.cache/vkd/tuxpaint-photos/train ] || /usr/bin/python3 tools/onnx/make_tuxpaint_photos.py
dotnet build tools/onnx/VkD.OnnxDistillDemo -c Release
cd tools/onnx/VkD.OnnxDistillDemo
dotnet run -c Release --no-build -- --student resnet8 --size 32 --epochs 15 --seeds 0,1 --lr 0.05 "$@"
