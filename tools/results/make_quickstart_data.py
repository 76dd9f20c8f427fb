#!/usr/bin/env python3
"""Writes the quickstart's small Fashion-MNIST subset into assets/fashion-mnist-mini/ as gzipped IDX files.

Source: Debian's dataset-fashion-mnist (apt-get install -y dataset-fashion-mnist), MIT licence (Zalando SE).
Subset: the first TRAIN_PER_CLASS training images of each class and the first TEST_PER_CLASS test images of each
class, in their original order. Output is byte-for-byte reproducible (gzip mtime 0). Standard library only.
"""
import gzip
import os
import struct
import sys

SRC = "/usr/share/datasets/fashion-mnist"
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def write_idx(path, dims, payload):
    header = struct.pack(">I", 0x0800 | len(dims)) + struct.pack(">" + "I" * len(dims), *dims)
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(header + payload)


def subset(split, per_class, out_dir):
    (n, h, w), images = read_idx(f"{SRC}/{split}-images-idx3-ubyte.gz")
    (n2,), labels = read_idx(f"{SRC}/{split}-labels-idx1-ubyte.gz")
    assert n == n2
    counts = [0] * 10
    keep = []
    for i in range(n):
        c = labels[i]
        if counts[c] < per_class:
            counts[c] += 1
            keep.append(i)
    size = h * w
    write_idx(f"{out_dir}/{split}-images-idx3-ubyte.gz", (len(keep), h, w), b"".join(images[i * size:(i + 1) * size] for i in keep))
    write_idx(f"{out_dir}/{split}-labels-idx1-ubyte.gz", (len(keep),), bytes(labels[i] for i in keep))
    print(f"{split}: {len(keep)} images, per class {counts}")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "assets", "fashion-mnist-mini")
    os.makedirs(out, exist_ok=True)
    subset("train", TRAIN_PER_CLASS, out)
    subset("t10k", TEST_PER_CLASS, out)
