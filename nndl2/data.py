"""MNIST for the GAN assignment: loading (torchvision) and a fast batch iterator.

`load_mnist` downloads MNIST with torchvision into `<root>/MNIST/raw` (what works in Colab).
Where there is no network, put the four original MNIST .gz files (or the IDX files unpacked from
them) there yourself, or point
the environment variable MNIST_ROOT (or the `root` argument) at a folder that has them.

`MNISTBatches` yields exactly the batches of the classic

    DataLoader(dset.MNIST(root, transform=T.ToTensor()), batch_size, sampler=ChunkSampler(n, start))

in the same order, but from one uint8 tensor kept on the training device: no per-image PIL
conversion and no host-to-device copy per step. Each batch is converted with the same
`float / 255` as ToTensor, so the values are bit-identical.

uint8, not float32, on purpose: 50,000 digits take 39 MB instead of 157 MB (on the CPU they are
not even copied: the batches are slices of the dataset's own tensor), and converting one batch
costs about 0.1 ms on one CPU core (one small kernel on a GPU): well under 1% of a training step
of any of the notebook's GANs, so a float32 copy would buy nothing measurable for 4x the memory.

Seeds: iterating over a DataLoader draws one number from torch's global random generator per
pass (its workers' base seed); MNISTBatches draws none. A seeded training run therefore makes
the same noise, and trains exactly the same, with MNISTBatches as with a DataLoader given its own
generator (DataLoader(..., generator=torch.Generator())), not with a plain DataLoader.
"""

import os
from pathlib import Path

import torch
from torch.utils.data import Sampler

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DEFAULT_ROOT = Path(__file__).resolve().parent  # nndl2/, as in the classic notebook


def mnist_root(root=None):
    """The folder torchvision reads MNIST from: `root`, else $MNIST_ROOT, else nndl2/."""
    return Path(root or os.environ.get("MNIST_ROOT") or DEFAULT_ROOT)


def load_mnist(root=None, train=True, download=True):
    """
    Return torchvision's MNIST dataset (transform=ToTensor()), downloading it when needed.

    Raises RuntimeError with the exact place to put the files when MNIST is neither on
    disk nor downloadable.
    """
    import torchvision.datasets as dset
    import torchvision.transforms as T

    root = mnist_root(root)
    try:
        return dset.MNIST(str(root), train=train, download=download, transform=T.ToTensor())
    except Exception as error:  # no network, a proxy, a half-written file...
        raw = root / "MNIST" / "raw"
        files = "\n".join(f"    {raw / name}[.gz]" for name in MNIST_FILES)
        raise RuntimeError(
            f"Could not load MNIST from {raw} ({type(error).__name__}: {error}).\n"
            "Either let torchvision download it (needs internet, works in Colab), or copy the four\n"
            "original MNIST files (.gz as published, or unpacked without .gz) to\n"
            f"{files}\n"
            "or set the environment variable MNIST_ROOT (or pass root=...) to a folder that has\n"
            "MNIST/raw/ with those files."
        ) from error


class MNISTBatches:
    """
    Batches (images, labels) of `num_samples` consecutive digits starting at `start`,
    in order, like DataLoader(dataset, batch_size, sampler=ChunkSampler(num_samples, start)).

    images: float32 (N, 1, 28, 28) in [0, 1] on `device`; labels: int64 (N,) on `device`.
    The last batch may be smaller than batch_size, as the DataLoader's is.
    """

    def __init__(self, dataset, batch_size=128, num_samples=None, start=0, device="cpu"):
        data, targets = dataset.data, dataset.targets
        if num_samples is None:
            num_samples = len(data) - start
        if start < 0 or num_samples <= 0 or start + num_samples > len(data):
            raise ValueError(
                f"MNISTBatches: samples [{start}, {start + num_samples}) are outside the dataset's {len(data)} images"
            )
        self.batch_size = batch_size
        self.images = data[start : start + num_samples].unsqueeze(1).to(device)  # uint8
        self.labels = targets[start : start + num_samples].to(device)

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __iter__(self):
        for i in range(0, len(self.images), self.batch_size):
            x = self.images[i : i + self.batch_size].to(torch.float32).div(255)
            yield x, self.labels[i : i + self.batch_size]


class ChunkSampler(Sampler):
    """The classic CS231n sampler: indices start, start + 1, ..., start + num_samples - 1, in order.

    DataLoader(dataset, batch_size, sampler=ChunkSampler(num_samples, start)) gives the batches that
    MNISTBatches(dataset, batch_size, num_samples, start) gives (the benchmark's classic loop uses it).
    """

    def __init__(self, num_samples, start=0):
        self.num_samples = num_samples
        self.start = start

    def __iter__(self):
        return iter(range(self.start, self.start + self.num_samples))

    def __len__(self):
        return self.num_samples
