"""PyTorch side of the ViDT training-step benchmark (run by `dotnet run --project bench/VkD.Bench -c Release -- vidt-step`).

One training step of the Swin-nano ViDT restatement of tools/fixtures/make_vidt_fixtures.py (box refinement, 100 [DET]
tokens, 11 classes, random weights, train mode) on a padded batch with random targets, per mode:
- train:        forward, ViDT's SetCriterion over the 7 prediction sets (Hungarian matching with scipy) of
                tools/fixtures/make_detection_loss_fixtures.py, backward, clip_grad_norm_(0.1) and AdamW over ViDT's
                build_optimizer groups (make_detection_step_fixtures.build_groups), lr 1e-4, weight decay 1e-4;
- distill-vkd:  + a frozen Swin-tiny ViDT teacher forward without autograd and VkD's six projected, standardised
                SmoothL1 pairs x 4.0 (vkd_distillation, StudentProjectors in the head group);
- distill-vidt: + the teacher and ViDT's token matching x 4.0 (vidt_token_matching).
Batch: image 0 is size x size, the others have sides drawn from [0.6 size, size] and are zero-padded (mask true on
padding); 1-4 objects per image with sides size/5 to size/2, labels 1-10. Prints one JSON line per mode:
{"mode", "seconds": [each timed step], "first_loss"} (--iters steps after one warm-up; the warm-up's total loss).
Run with Debian's python3-torch, OMP_WAIT_POLICY=passive, OPENBLAS_CORETYPE=SkylakeX and 2 threads (docs/benchmarks.md).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fixtures"))
import make_detection_loss_fixtures as L  # noqa: E402
import make_detection_step_fixtures as S  # noqa: E402
from make_vidt_fixtures import SWIN_VARIANTS, SwinRam, Vidt  # noqa: E402

NUM_CLASSES = 11
COEF = 4.0
LR = 1e-4
WEIGHT_DECAY = 1e-4
CLIP = 0.1


def batch_and_targets(size, batch, seed):
    rng = np.random.default_rng(seed)
    tensors, targets = [], []
    lo = int(0.6 * size)
    for i in range(batch):
        h, w = (size, size) if i == 0 else (int(rng.integers(lo, size + 1)), int(rng.integers(lo, size + 1)))
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        tensors.append(S.to_tensor_normalize(img))
        n = int(rng.integers(1, 5))
        bw = np.minimum(w, rng.integers(size // 5, size // 2 + 1, size=n)).astype(np.float32)
        bh = np.minimum(h, rng.integers(size // 5, size // 2 + 1, size=n)).astype(np.float32)
        x1 = (rng.random(n) * (w - bw)).astype(np.float32)
        y1 = (rng.random(n) * (h - bh)).astype(np.float32)
        boxes = np.stack([x1, y1, x1 + bw, y1 + bh], -1).astype(np.float32)
        labels = rng.integers(1, NUM_CLASSES, size=n).astype(np.int64)
        targets += S.normalized_targets([boxes], [labels], [(h, w)])
    images, mask = S.pad(tensors)
    return images, mask, targets


def run_mode(mode, images, mask, targets, iters):
    torch.manual_seed(0)
    student = Vidt(SwinRam(*SWIN_VARIANTS["nano"]), num_classes=NUM_CLASSES).train()
    projectors = L.StudentProjectors(256, 4).train() if mode == "distill-vkd" else None
    teacher = None
    if mode != "train":
        teacher = Vidt(SwinRam(*SWIN_VARIANTS["tiny"]), num_classes=NUM_CLASSES).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    S.STEP_LR = LR  # build_groups gives its backbone groups the fixture's rate
    groups = S.build_groups(student, projectors)
    params = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY)
    times, first_loss = [], None
    for it in range(iters + 1):
        t0 = time.perf_counter()
        out = student(images, mask)
        _, _, total, _, _ = L.set_criterion(out["logits"], out["boxes"], targets)
        if teacher is not None:
            with torch.no_grad():
                t = teacher(images, mask)
            args = (out["srcs"], out["body_det_token"], out["hs"], t["srcs"], t["body_det_token"], t["hs"])
            if mode == "distill-vkd":
                total = total + COEF * sum(L.vkd_distillation(projectors, *args))
            else:
                total = total + COEF * L.vidt_token_matching(*args)
        loss = total.item()
        if not np.isfinite(loss):  # engine.py's check before backward
            raise RuntimeError(f"loss is {loss}")
        first_loss = loss if first_loss is None else first_loss
        optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        optimizer.step()
        if it > 0:
            times.append(time.perf_counter() - t0)
    return times, first_loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--modes", default="train,distill-vkd,distill-vidt")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    L.NUM_CLASSES = NUM_CLASSES
    images, mask, targets = batch_and_targets(args.size, args.batch, seed=1)
    for mode in args.modes.split(","):
        times, first_loss = run_mode(mode, images, mask, targets, args.iters)
        print(json.dumps({"mode": mode, "seconds": times, "first_loss": first_loss}), flush=True)


if __name__ == "__main__":
    main()
