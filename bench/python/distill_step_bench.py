"""PyTorch side of the VkD distillation-step benchmark (run by `dotnet run --project bench/VkD.Bench -c Release --
distill-step`).

The reference's step (the VkD repo's engine.py train_one_epoch, classification) restated on the model re-statements of
tools/fixtures/make_model_fixtures.py (timm RegNetY-160 teacher, the VkD conv-stem DeiT-Ti student), in float32 on the
CPU (the reference's autocast is CUDA-only):

    x, y  = mixup(x, y)                       the teacher sees the same mixed images
    z_t   = teacher.forward_features(x)       no_grad, eval
    y_t   = teacher head
    z_cls, z_dist, z_s = student.forward_features(x)
    s     = projector(z_s.mean(1))            orthogonal(nn.Linear(d_s, d_t)), householder map
    t     = layer_norm(z_t.mean((2, 3)))
    L     = soft-target CE(head(z_cls), y) + KL(head_dist(z_dist) / T || y_t / T) T^2 + smooth_l1(s, t)
    AdamW (lr 5e-4, wd 0.05, none on 1-d parameters, pos_embed and cls_token)

Each part is timed on its own (the CPU runs every op before returning). Prints one JSON line per step and a last
line with the means: {"mean": {"part": seconds, ...}}. With --interleave it prints {"ready": true} once the models are
built and runs each step only when a line arrives on stdin, so the caller alternates its own steps with these. Run with Debian's python3-torch, OMP_WAIT_POLICY=passive and the
thread count given (see docs/benchmarks.md).
"""
import argparse
import resource
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import orthogonal

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fixtures"))
from make_model_fixtures import RegNet, ViT  # noqa: E402

PARTS = ["data", "teacher", "student", "loss", "backward", "optimizer"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--img", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--interleave", action="store_true", help="print 'ready', then wait for a line on stdin before each step")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    teacher = RegNet(106.23, 200, 2.48, 18, 112, num_classes=args.classes).eval()
    for q in teacher.parameters():
        q.requires_grad_(False)
    student = ViT("vkd", img=args.img, num_classes=args.classes).train()
    student.projector = orthogonal(nn.Linear(192, 3024, bias=False))
    no_decay = {"pos_embed", "cls_token"}
    decay, plain = [], []
    for name, q in student.named_parameters():
        (plain if q.ndim <= 1 or name.endswith(".bias") or name in no_decay else decay).append(q)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": plain, "weight_decay": 0.0}], lr=5e-4, eps=1e-8)

    means = {k: 0.0 for k in PARTS + ["total"]}
    if args.interleave:
        print(json.dumps({"ready": True}), flush=True)
    for step in range(args.warmup + args.steps):
        if args.interleave and not sys.stdin.readline():
            break
        t0 = time.perf_counter()
        x = torch.randn(args.batch, 3, args.img, args.img)
        y = torch.randint(0, args.classes, (args.batch,))
        # timm's batch-mode mixup with label smoothing 0.1 (the image blend is what costs).
        lam = 0.7
        x = x.mul(lam).add_(x.flip(0).mul(1 - lam))
        off, on = 0.1 / args.classes, 1 - 0.1 + 0.1 / args.classes
        y1 = torch.full((args.batch, args.classes), off).scatter_(1, y[:, None], on)
        target = y1 * lam + y1.flip(0) * (1 - lam)
        t1 = time.perf_counter()
        with torch.no_grad():
            z_t = teacher.forward_features(x)
            pooled_t = z_t.mean((2, 3))
            y_t = teacher.head.fc(pooled_t)
        t2 = time.perf_counter()
        f = student.forward_features(x)
        y_s, y_sd, z_s = student.head(f[:, 0]), student.head_dist(f[:, 1]), f[:, 2:]
        t3 = time.perf_counter()
        s = student.projector(z_s.mean(1))
        tt = F.layer_norm(pooled_t, (pooled_t.shape[-1],))
        l_repr = F.smooth_l1_loss(s, tt)
        l_kd = F.kl_div(F.log_softmax(y_sd, 1), F.log_softmax(y_t, 1), reduction="batchmean", log_target=True)
        l_ce = torch.sum(-target * F.log_softmax(y_s, dim=-1), dim=-1).mean()
        loss = l_ce + l_kd + l_repr
        loss_value = loss.item()
        t4 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        t5 = time.perf_counter()
        loss.backward()
        t6 = time.perf_counter()
        opt.step()
        t7 = time.perf_counter()
        t = {"data": t1 - t0, "teacher": t2 - t1, "student": t3 - t2, "loss": t4 - t3, "backward": t6 - t5,
             "optimizer": (t7 - t6) + (t5 - t4), "total": t7 - t0}
        if step >= args.warmup:
            for k in means:
                means[k] += t[k] / args.steps
        print(json.dumps({"step": step, "warmup": step < args.warmup, "loss_value": loss_value, **t}), flush=True)
    means["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mean": means}), flush=True)


if __name__ == "__main__":
    main()
