"""Builds a small labelled real-photo set from Debian's tuxpaint-stamps-default photo cut-outs.

apt-get install -y tuxpaint-stamps-default, then run with /usr/bin/python3 (Pillow from python3-pil):

    /usr/bin/python3 tools/onnx/make_tuxpaint_photos.py [--out ~/.cache/vkd/tuxpaint-photos] [--size 224]

Each class is a stamp category folder (all PNGs below it, except the cartoon drawings). Every cut-out is pasted (alpha mask) onto a plain
background of a random colour at a random scale and position, several times. The split is by source photo, so no
photo appears in both train and val. Output: <out>/{train,val}/<class>/<stem>_<k>.png, deterministic for a seed.
"""
import argparse
import glob
import os
import random

from PIL import Image

STAMPS = "/usr/share/tuxpaint/stamps"
CLASSES = {
    "mammal": ["animals/mammals"],
    "bird": ["animals/birds"],
    "fish": ["animals/fish"],
    "fruit": ["food/fruit"],
    "vegetable": ["food/vegetables"],
    "flower": ["plants/flowers"],
    "vehicle": ["vehicles"],
    "household": ["household"],
    "clothes": ["clothes"],
}


def composite(photo: Image.Image, size: int, rng: random.Random) -> Image.Image:
    background = Image.new("RGB", (size, size), tuple(rng.randint(0, 255) for _ in range(3)))
    scale = rng.uniform(0.55, 0.9) * size / max(photo.size)
    w, h = max(1, int(photo.width * scale)), max(1, int(photo.height * scale))
    item = photo.resize((w, h), Image.BICUBIC)
    x, y = rng.randint(0, size - w), rng.randint(0, size - h)
    background.paste(item, (x, y), item)
    return background


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/vkd/tuxpaint-photos"))
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--train-copies", type=int, default=5)
    ap.add_argument("--val-copies", type=int, default=2)
    ap.add_argument("--val-fraction", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    counts = {}
    for label, folders in CLASSES.items():
        # Cartoon sub-folders hold drawings, not photos: leave them out.
        files = sorted({f for d in folders for f in glob.glob(os.path.join(STAMPS, d, "**", "*.png"), recursive=True)
                        if "cartoon" not in os.path.relpath(f, STAMPS).lower()})
        if not files:
            raise SystemExit(f"no stamps under {folders}: apt-get install -y tuxpaint-stamps-default")
        rng.shuffle(files)
        n_val = max(1, round(len(files) * args.val_fraction))
        for split, subset, copies in (("val", files[:n_val], args.val_copies), ("train", files[n_val:], args.train_copies)):
            folder = os.path.join(args.out, split, label)
            os.makedirs(folder, exist_ok=True)
            for f in subset:
                photo = Image.open(f).convert("RGBA")
                stem = os.path.splitext(os.path.relpath(f, STAMPS))[0].replace("/", "_")
                for k in range(copies):
                    composite(photo, args.size, rng).save(os.path.join(folder, f"{stem}_{k}.png"))
            counts[(split, label)] = len(subset) * copies
    for split in ("train", "val"):
        print(split, sum(v for (s, _), v in counts.items() if s == split),
              {l: v for (s, l), v in counts.items() if s == split})


if __name__ == "__main__":
    main()
