"""PyTorch side of the BigGAN step benchmark (run by `dotnet run --project bench/VkD.Bench -c Release -- gan`).

One D step and one G step of DiffAugment-BigGAN + LeCam as BigGAN's train_fns runs them, on the restatement of
tools/fixtures/make_generation_fixtures.py (checked there against the reference repositories' modules):
  D step: z, y ~ N(0, 1), U{classes}; G(z, y) without gradient in training mode; DiffAugment(translation, cutout) of
          cat(fake, real) with one draw; D forward; hinge + LeCam (active); backward; Adam (lr 2e-4, betas (0, 0.999)).
  G step: new z, y; G forward; DiffAugment; D; -mean D(fake); backward; Adam.
with BigGAN's toggle_grads. Prints one JSON line per (ch, step): {"ch", "step", "seconds"} (median of --iters after
one warm-up). Run with Debian's python3-torch, OMP_WAIT_POLICY=passive and the thread count of the C# side.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fixtures"))
from make_generation_fixtures import (  # noqa: E402
    Discriminator, Generator, LossEma, diff_augment, draw, hinge_d, hinge_g, init_n02, lecam)

POLICY = "translation,cutout"


def augment(x):
    d = draw(POLICY, x.size(0), x.size(2), x.size(3), lambda s: torch.rand(s, dtype=x.dtype), lambda lo, hi, s: torch.randint(lo, hi, size=s))
    return diff_augment(x, POLICY, d)


def toggle(model, on):
    for p in model.parameters():
        p.requires_grad_(on)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--chs", default="16,64")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, n = args.batch, args.classes
    for ch in (int(c) for c in args.chs.split(",")):
        g, d = Generator(ch, 128, n), Discriminator(ch, n)
        init_n02(g)
        init_n02(d)
        g.train()
        d.train()
        opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.0, 0.999), eps=1e-8)
        opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.0, 0.999), eps=1e-8)
        ema = LossEma(start_itr=0)
        real = torch.rand(b, 3, 32, 32) * 2 - 1
        real_y = torch.randint(0, n, (b,))

        def d_step():
            toggle(d, True)
            toggle(g, False)
            opt_d.zero_grad()
            z, y = torch.randn(b, 128), torch.randint(0, n, (b,))
            with torch.no_grad():
                fake = g(z, y)
            score, _ = d(augment(torch.cat([fake, real])), torch.cat([y, real_y]))
            d_fake, d_real = score[:b], score[b:]
            loss_real, loss_fake = hinge_d(d_fake, d_real)
            ema.update(d_real.mean().item(), d_fake.mean().item(), 1)
            (loss_real + loss_fake + 0.3 * lecam(d_real, d_fake, ema)).backward()
            opt_d.step()

        def g_step():
            toggle(d, False)
            toggle(g, True)
            opt_g.zero_grad()
            z, y = torch.randn(b, 128), torch.randint(0, n, (b,))
            score, _ = d(augment(g(z, y)), y)
            hinge_g(score).backward()
            opt_g.step()

        for name, step in (("d", d_step), ("g", g_step)):
            step()
            times = []
            for _ in range(args.iters):
                t0 = time.perf_counter()
                step()
                times.append(time.perf_counter() - t0)
            times.sort()
            print(json.dumps({"ch": ch, "step": name, "seconds": times[len(times) // 2]}), flush=True)


if __name__ == "__main__":
    main()
