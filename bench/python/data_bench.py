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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(1)
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
    best = 0.0
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        n = 0
        for x, _y in loader:
            n += x.shape[0]
        best = max(best, n / (time.perf_counter() - t0))
    print(json.dumps({"images_per_s": best, "images": len(ds), "workers": a.workers}))


if __name__ == "__main__":
    main()
