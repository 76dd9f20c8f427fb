"""PIL + torchvision side of the data benchmark (run by `dotnet run --project bench/VkD.Bench -c Release -- data`).

Decodes the JPEG folder the C# suite generated and applies the VkD repository's training pipeline (augment.py's
aug_generator: RandomResizedCrop(bicubic) + flip + 3-Augment (grayscale | solarize | Gaussian blur) + ColorJitter 0.3
+ ToTensor + Normalize) through torch's DataLoader, and prints images/s as JSON. Use Debian's /usr/bin/python3.
"""
import argparse
import json
import random
import time

import torch
from PIL import ImageFilter, ImageOps
from torchvision import datasets, transforms


class GrayScale:
    def __call__(self, img):
        return transforms.Grayscale(3)(img)


class Solarize:
    def __call__(self, img):
        return ImageOps.solarize(img)


class Blur:
    def __call__(self, img):
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(0.1, 2.0)))


def profile(root, size):
    """CPU ms/image per stage on one thread (time.process_time), mirroring the C# --profile stages."""
    import glob
    files = sorted(glob.glob(f"{root}/*/*.jpg"))[:128]
    n = len(files)
    rrc = transforms.RandomResizedCrop(size, interpolation=transforms.InterpolationMode.BICUBIC)
    three = transforms.RandomChoice([GrayScale(), Solarize(), Blur()])
    jitter = transforms.ColorJitter(0.3, 0.3, 0.3)
    norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    out = {}
    for _ in range(2):
        def stage(name, fn):
            t0 = time.process_time()
            r = fn()
            out[name] = (time.process_time() - t0) * 1000 / n
            return r
        decoded = stage("decode", lambda: [datasets.folder.pil_loader(f) for f in files])
        cropped = stage("random resized crop", lambda: [rrc(i) for i in decoded])
        augmented = stage("3-Augment", lambda: [three(i) for i in cropped])
        stage("color jitter", lambda: [jitter(i) for i in augmented])
        stage("normalise", lambda: [norm(i) for i in augmented])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--profile", action="store_true")
    p.add_argument("--root", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.profile:
        print(json.dumps(profile(a.root, a.size)))
        return
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    tf = transforms.Compose([
        transforms.RandomResizedCrop(a.size, scale=(0.08, 1.0), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.RandomHorizontalFlip(),
        transforms.RandomChoice([GrayScale(), Solarize(), Blur()]),
        transforms.ColorJitter(0.3, 0.3, 0.3),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])
    ds = datasets.ImageFolder(a.root, transform=tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                                         persistent_workers=a.workers > 0, drop_last=False)
    for _ in loader:  # warm-up epoch (starts the worker processes)
        pass
    if a.workers == 0:
        # Single process: CPU time per image is the load-independent per-core figure.
        t0 = time.process_time()
        n = sum(x.shape[0] for x, _y in loader)
        cpu_ms = (time.process_time() - t0) * 1000 / n
    else:
        cpu_ms = None
    best = 0.0
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        n = 0
        for x, _y in loader:
            n += x.shape[0]
        best = max(best, n / (time.perf_counter() - t0))
    print(json.dumps({"images_per_s": best, "cpu_ms_per_image": cpu_ms, "images": len(ds), "workers": a.workers}))


if __name__ == "__main__":
    main()
