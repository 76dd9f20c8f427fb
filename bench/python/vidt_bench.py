"""PyTorch side of the ViDT eval-throughput benchmark (run by `dotnet run --project bench/VkD.Bench -c Release -- vidt`).

Runs the ViDT restatement of tools/fixtures/make_vidt_fixtures.py (Swin-nano with RAM, neck, deformable decoder with
box refinement, 100 [DET] tokens, 91 classes; random weights) in eval mode without autograd on one random image per
size, and prints one JSON line per size: {"size", "img_per_s", "seconds"} (best of --iters after one warm-up).
Run with Debian's python3-torch, OMP_WAIT_POLICY=passive, OPENBLAS_CORETYPE=SkylakeX and 2 threads (docs/benchmarks.md).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fixtures"))
from make_vidt_fixtures import SWIN_VARIANTS, SwinRam, Vidt  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="512,800")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Vidt(SwinRam(*SWIN_VARIANTS["nano"])).eval()
    for size in (int(s) for s in args.sizes.split(",")):
        x = torch.randn(args.batch, 3, size, size)
        mask = torch.zeros(args.batch, size, size, dtype=torch.bool)
        with torch.no_grad():
            model(x, mask)  # warm-up
            times = []
            for _ in range(args.iters):
                t0 = time.perf_counter()
                model(x, mask)
                times.append(time.perf_counter() - t0)
        best = min(times)
        print(json.dumps({"size": size, "img_per_s": args.batch / best, "seconds": best}), flush=True)


if __name__ == "__main__":
    main()
