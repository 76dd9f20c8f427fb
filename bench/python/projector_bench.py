"""PyTorch 1.13 side of the projector benchmark (bench/VkD.Bench/ProjectorBench.cs runs it in the same run).

Times forward + backward of torch.nn.utils.parametrizations.orthogonal(nn.Linear(d_s, d_t, bias=False)) on a batch,
with the same random `original` as the C# side (0.01 * N(0, 1), householder diagonal kept at -1).

usage: OMP_WAIT_POLICY=passive /usr/bin/python3 bench/python/projector_bench.py --cases 192:16:cayley:full,...
mode: full = warm-up + median of up to 5 steps within ~4 s (a first step over 5 s is the measurement);
      forward = one forward of the parametrization only (a lower bound of the step, for matrix_exp at 3024).
Prints one JSON object per case.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import orthogonal


def measure(step, budget=4.0, max_steps=5):
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    if first > 5.0 or max_steps == 1:
        return first, 1
    times = []
    start = time.perf_counter()
    while len(times) < max_steps and (time.perf_counter() - start) < budget:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", required=True)
    parser.add_argument("--dt", type=int, default=3024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for case in args.cases.split(","):
        ds, batch, orth_map, mode = case.split(":")
        ds, batch = int(ds), int(batch)
        torch.manual_seed(0)
        m = orthogonal(nn.Linear(ds, args.dt, bias=False), orthogonal_map=orth_map)
        with torch.no_grad():
            o = m.parametrizations.weight.original
            o.copy_(0.01 * torch.randn_like(o))
            o.diagonal().fill_(-1.0)
        x = torch.randn(batch, ds)
        g = torch.randn(batch, args.dt)

        def step():
            m.zero_grad(set_to_none=True)
            (m(x) * g).sum().backward()

        def forward():
            with torch.no_grad():
                _ = m.weight

        seconds, steps = measure(step) if mode == "full" else measure(forward, max_steps=1)
        print(json.dumps({"ds": ds, "batch": batch, "map": orth_map, "mode": mode, "seconds": seconds,
                          "steps": steps, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
