"""PyTorch side of the model eval-throughput benchmark (run by `dotnet run --project bench/VkD.Bench -c Release -- models`).

Uses the PyTorch re-statements of tools/fixtures/make_model_fixtures.py (timm DeiT, the VkD conv-stem student,
timm RegNetY) and torchvision's resnet18. Prints one JSON line per model: {"model", "img_per_s", "seconds"}.
Run with Debian's python3-torch, OMP_WAIT_POLICY=passive and 2 threads (see docs/benchmarks.md).
"""
import argparse
import json
import os
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fixtures"))
from make_model_fixtures import RegNet, ViT  # noqa: E402

BUILDERS = {
    "deit_tiny_patch16_224": lambda: ViT("plain"),
    "deit_ti_distilled": lambda: ViT("vkd"),
    "resnet18": lambda: torchvision.models.resnet18(),
    "regnety_160": lambda: RegNet(106.23, 200, 2.48, 18, 112),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default=",".join(BUILDERS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--img", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", default="")  # model=iters,...
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    iters = {k: int(v) for k, v in (kv.split("=") for kv in args.iters.split(",") if kv)}
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.img, args.img)
    for name in args.models.split(","):
        model = BUILDERS[name]().eval()
        n = iters.get(name, 3)
        with torch.no_grad():
            model(x)  # warm-up
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
        best = min(times)
        print(json.dumps({"model": name, "img_per_s": args.batch / best, "seconds": best}), flush=True)
        del model


if __name__ == "__main__":
    main()
