#!/usr/bin/env bash
# Trains the default FID/KID feature network of `vkd gan` for Fashion-MNIST (the Fréchet-LeNet-Distance idea: a
# small classifier of the domain, trained once on the full training set; its pooled penultimate features replace
# Inception's) and writes it to assets/fid/ with its measured test accuracy.
#
#   tools/fid/train_fid_network.sh            # needs: apt-get install -y dataset-fashion-mnist, a built vkd
#
# Deterministic for a fixed --threads (the loop seeds every step; the data order is a function of the seed), so a
# rerun with THREADS=2 reproduces assets/fid/resnet8_fashion_mnist.pth bit for bit on the same libtorch build.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-8}
OUT=${OUT:-runs/fid-network-fashion-mnist}
VKD=${VKD:-src/VkD.Cli/bin/Release/net10.0/linux-x64/vkd}
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || { echo "No Fashion-MNIST at $DATA (apt-get install -y dataset-fashion-mnist)" >&2; exit 2; }
[ -x "$VKD" ] || { echo "No vkd at $VKD: dotnet build VkD.slnx -c Release" >&2; exit 2; }

# The quickstart teacher's recipe (docs/training.md) on all 60000 images: AdamW, cosine, no Mixup/CutMix.
"$VKD" train --model resnet8 --data-path "$DATA" --data-set fashion-mnist --epochs "$EPOCHS" --batch-size 128 \
    --lr 2e-3 --min-lr 1e-5 --mixup 0 --cutmix 0 --seed 0 --save-every 0 --threads "$THREADS" --num-workers 1 \
    --output-dir "$OUT" --resume auto

mkdir -p assets/fid
cp "$OUT/model.pth" assets/fid/resnet8_fashion_mnist.pth
python3 - "$OUT/summary.json" "$EPOCHS" "$THREADS" > assets/fid/resnet8_fashion_mnist.json <<'PY'
import hashlib, json, sys
summary = json.load(open(sys.argv[1]))
final = summary["final"]
weights = open("assets/fid/resnet8_fashion_mnist.pth", "rb").read()
print(json.dumps({
    "model": "resnet8",
    "dataset": "fashion-mnist",
    "trained_on": "all 60000 training images",
    "input": "1 x 28 x 28, Fashion-MNIST mean/std",
    "features": "global-average-pooled penultimate layer (64-d)",
    "epochs": int(sys.argv[2]),
    "threads": int(sys.argv[3]),
    "test_top1": final["acc1"],
    "test_images": final["images"],
    "sha256": hashlib.sha256(weights).hexdigest(),
    "command": "tools/fid/train_fid_network.sh",
}, indent=2))
PY
cat assets/fid/resnet8_fashion_mnist.json
