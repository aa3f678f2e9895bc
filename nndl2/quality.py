"""Objective image quality of MNIST GAN samples: an evaluation classifier and the metrics built on it.

    from nndl2 import quality
    images = quality.sample_images(G)          # (1000, 784) in [-1, 1], G left untouched
    metrics = quality.evaluate(images)         # dict: recognizable, coverage, fid, ...
    quality.report(metrics)                    # short printed summary
    quality.plot_class_histogram(metrics)      # bar chart of predicted classes (mode collapse)
    ok, reasons = quality.passes(metrics, "vanilla")   # the Inline Question thresholds

    python -m nndl2.quality samples.npy [--json] [--gan vanilla|lsgan|dcgan]

The metrics come from a small convolutional MNIST classifier shipped with the kit
(nndl2/mnist_classifier.pt, trained by the course staff on the real MNIST test set, >= 98% accurate
on real training digits it never saw):

- recognizable: share of samples whose top softmax probability is >= CONFIDENCE (0.9): the
  classifier is sure the sample is *some* digit. Noise and blobs score low.
- class_counts / coverage / class_distance: how the confident samples spread over the 10 digits.
  coverage counts the classes with at least MIN_CLASS_SHARE of the confident samples;
  class_distance is the total-variation distance of the predicted-class histogram of all
  samples from uniform (0 = every digit equally often, 0.9 = a single digit). Mode collapse
  shows up here.
- inception_score: exp(E_x KL(p(y|x) || p(y))) with the classifier's softmax, between 1 and 10;
  high when every sample is a clear digit and all digits occur equally often.
- fid: Frechet distance between the Gaussians fitted to the classifier's penultimate features
  (FEATURE_DIM numbers per image) of the samples and of real digits (statistics shipped in
  nndl2/mnist_features.npz), computed by torchmetrics' FrechetInceptionDistance fed with the
  classifier's features. Lower is better; it sees blur, wrong stroke width and missing variety
  that the other metrics miss.

THRESHOLDS (calibrated by the course staff on many training runs of the reference solution) say which
values the final samples of each GAN of the notebook must reach; `passes` applies them.
"""

import argparse
import copy
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
CLASSIFIER_PATH = HERE / "mnist_classifier.pt"  # state_dict of MNISTClassifier (float32)
FEATURES_PATH = HERE / "mnist_features.npz"  # real-digit feature statistics for the FID

FEATURE_DIM = 128  # width of the classifier's penultimate layer: the FID's feature space
CONFIDENCE = 0.9  # a sample is "recognizable" when its top softmax probability reaches this
MIN_CLASS_SHARE = 0.02  # a digit counts towards coverage when it has >= 2% of the confident samples
MIN_SAMPLES = 100  # fewer samples make the class histogram and the FID too noisy to grade
RANGE_TOLERANCE = 1e-3  # values may leave [-1, 1] by this much (float rounding of tanh)


# ---------------------------------------------------------------------------
# The evaluation classifier
# ---------------------------------------------------------------------------


class MNISTClassifier(nn.Module):
    """
    A small LeNet-style CNN for MNIST digits in [-1, 1].

    (N, 1, 28, 28) -> conv 5x5 (16) -> ReLU -> maxpool 2 -> conv 5x5 (32) -> ReLU -> maxpool 2
    -> (N, 32 * 7 * 7) -> Linear -> ReLU = features (N, FEATURE_DIM) -> Linear -> logits (N, 10).
    About 215,000 parameters (0.9 MB): 1,000 images take well under a second on a CPU.
    """

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 16, 14, 14)
            nn.Conv2d(16, 32, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 7, 7)
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, FEATURE_DIM),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)  # active only while training
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, x):
        """(N, 1, 28, 28) images in [-1, 1] -> (N, FEATURE_DIM) penultimate activations."""
        return self.body(x)

    def forward(self, x):
        """(N, 1, 28, 28) images in [-1, 1] -> (N, 10) logits."""
        return self.head(self.dropout(self.features(x)))


class _Precomputed(nn.Module):
    """
    The feature extractor handed to torchmetrics' FID: the classifier's penultimate features, already computed.

    evaluate() runs the classifier once and uses its features (N, FEATURE_DIM) both for the
    softmax and for the FID, so this module passes them through unchanged.
    """

    num_features = FEATURE_DIM  # torchmetrics reads this instead of probing with a 299x299 image

    def forward(self, features):
        if features.dim() != 2:  # torchmetrics < 1.4 ignores num_features and probes with an image
            return torch.zeros(len(features), FEATURE_DIM)
        return features


_CACHE = {}


def _cached(kind, path, load):
    """load(path) once per process; a missing file says how to get it back."""
    key = (kind, str(path))
    if key not in _CACHE:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: restore nndl2/ from the assignment's zip")
        _CACHE[key] = load(path)
    return _CACHE[key]


def load_classifier(path=CLASSIFIER_PATH):
    """The shipped evaluation classifier in eval mode (weights loaded with weights_only=True)."""

    def load(path):
        # Building the network draws initial weights (then replaced) from torch's global generator: drawn from a
        # fork of it, so that scoring a GAN while it trains (the grader's checkpoints) does not change its run.
        with torch.random.fork_rng(devices=[]):
            model = MNISTClassifier()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval().requires_grad_(False)

    return _cached("classifier", path, load)


def load_real_statistics(path=FEATURES_PATH):
    """Sums of the real digits' features: dict with "sum" (D,), "cov_sum" (D, D), "num_samples" () (float64, int64)."""

    def load(path):
        with np.load(path) as data:
            return {name: data[name] for name in ("sum", "cov_sum", "num_samples")}

    return _cached("features", path, load)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def as_images(images, min_samples=MIN_SAMPLES):
    """
    Check and convert samples to a float32 tensor (N, 1, 28, 28) in [-1, 1].

    Accepts numpy arrays or torch tensors of shape (N, 784), (N, 28, 28) or (N, 1, 28, 28)
    with values in [-1, 1] (the generator's tanh range; images deprocessed to [0, 1] lie inside it and
    are accepted, but score badly: they have no -1 background). Raises ValueError otherwise.
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu()
    elif isinstance(images, np.ndarray):
        if images.dtype == object or not np.issubdtype(images.dtype, np.number):
            raise ValueError(f"images must be numeric, got a numpy array of dtype {images.dtype}")
        images = torch.from_numpy(np.ascontiguousarray(images))
    else:
        raise ValueError(f"images must be a numpy array or a torch tensor, got {type(images).__name__}")
    if images.is_complex() or images.dtype == torch.bool:
        raise ValueError(f"images must be real numbers, got dtype {images.dtype}")
    shape = tuple(images.shape)
    if not (
        (len(shape) == 2 and shape[1] == 784)
        or (len(shape) == 3 and shape[1:] == (28, 28))
        or (len(shape) == 4 and shape[1:] == (1, 28, 28))
    ):
        raise ValueError(f"images must have shape (N, 784), (N, 28, 28) or (N, 1, 28, 28); got {shape}")
    if shape[0] < min_samples:
        raise ValueError(f"need at least {min_samples} samples for stable metrics, got {shape[0]} (use 1,000)")
    images = images.to(torch.float32).reshape(-1, 1, 28, 28)
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
        raise ValueError(f"{bad} of {shape[0]} images contain NaN or infinite values")
    low, high = float(images.min()), float(images.max())
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        if low >= -RANGE_TOLERANCE and high > 10:  # non-negative and far above 1: pixel values
            hint = " (are they deprocessed to [0, 255]?)"
        else:  # raw outputs: both signs, below -1, or a little above 1 (a final ReLU)
            hint = " (does the generator end with a Tanh?)"
        raise ValueError(
            f"images must lie in [-1, 1] (the generator's tanh range), found values in [{low:.3g}, {high:.3g}]{hint}"
        )
    return images.clamp(-1, 1)


def sample_images(G, n=1000, noise_dim=96, seed=0, batch_size=128):
    """
    Draw n samples from generator G without changing it: (n, 784) float32 numpy in [-1, 1].

    G is deep-copied, so neither its weights nor its BatchNorm running statistics change.
    The copy stays in whatever mode G is in (the notebook's run_a_gan never calls eval(),
    so its sample grids come from train-mode BatchNorm; the grader sees the same). Noise is
    uniform in (-1, 1) like sample_noise, drawn from its own generator seeded with `seed`:
    the global RNG is not touched. Batches of at most batch_size, like training.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    G = copy.deepcopy(G)
    try:
        device = next(G.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    rng = torch.Generator().manual_seed(seed)
    noise = 2 * torch.rand(n, noise_dim, generator=rng) - 1
    chunks = max(1, math.ceil(n / batch_size))
    outputs = []
    with torch.no_grad():
        # Equal chunks: a train-mode BatchNorm cannot take a batch of one image.
        for z in torch.tensor_split(noise, chunks):
            outputs.append(G(z.to(device)).reshape(len(z), -1).float().cpu())
    images = torch.cat(outputs).numpy()
    if images.shape[1] != 784:
        raise ValueError(f"the generator must output 784 values per sample, got {images.shape[1]}")
    return images


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def _fid(features):
    """FID of (N, FEATURE_DIM) sample features against the shipped real statistics, by torchmetrics (float64)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    # normalize=False: older torchmetrics would otherwise turn the features into bytes in update().
    metric = FrechetInceptionDistance(feature=_Precomputed(), reset_real_features=False, normalize=False)
    real = load_real_statistics()
    # The real digits enter as the sums torchmetrics itself accumulates in update(..., real=True);
    # shipping sums instead of 10,000 images keeps the kit small and the evaluation fast.
    metric.real_features_sum = torch.from_numpy(real["sum"]).to(torch.float64)
    metric.real_features_cov_sum = torch.from_numpy(real["cov_sum"]).to(torch.float64)
    metric.real_features_num_samples = torch.tensor(int(real["num_samples"]), dtype=torch.long)
    metric.update(features, real=False)
    return float(metric.compute())


def evaluate(images, classifier=None):
    """
    Image-quality metrics of generated digits.

    Inputs:
    - images: N >= MIN_SAMPLES samples in [-1, 1], numpy or torch, shape (N, 784), (N, 28, 28)
      or (N, 1, 28, 28). Use about 1,000 (the thresholds are calibrated with 1,000).
    - classifier: an MNISTClassifier (default: the shipped one).

    Returns a dict:
    - n: number of samples.
    - recognizable: share (0..1) of samples with top softmax probability >= CONFIDENCE.
    - mean_confidence: mean top softmax probability (0.1..1).
    - class_counts: list of 10 ints, how many samples the classifier assigns to each digit.
    - confident_counts: list of 10 ints, the same for the recognizable samples only.
    - coverage: number of digits (0..10) with at least MIN_CLASS_SHARE of the recognizable samples.
    - class_distance: total-variation distance (0..0.9) of class_counts / n from uniform.
    - inception_score: exp(mean KL(p(y|x) || p(y))), 1..10 (higher is better).
    - fid: Frechet distance to real digits in the classifier's feature space (>= 0, lower is better).
    """
    images = as_images(images)
    classifier = classifier or load_classifier()
    with torch.no_grad():
        features = torch.cat([classifier.features(batch) for batch in images.split(1000)])
        # head(features) = forward(x) without the dropout, which only acts while training.
        probs = F.softmax(classifier.head(features), dim=1).double()
    n = len(images)
    top, predicted = probs.max(dim=1)
    confident = top >= CONFIDENCE
    class_counts = torch.bincount(predicted, minlength=10)
    confident_counts = torch.bincount(predicted[confident], minlength=10)
    n_confident = int(confident.sum())
    coverage = int(((confident_counts >= MIN_CLASS_SHARE * n_confident) & (confident_counts > 0)).sum())
    class_distance = 0.5 * float((class_counts.double() / n - 0.1).abs().sum())
    marginal = probs.mean(dim=0, keepdim=True)
    # KL(p(y|x) || p(y)) per sample; xlogy gives 0 for the 0 * log 0 of saturated softmaxes.
    kl = (torch.special.xlogy(probs, probs) - probs * torch.log(marginal)).sum(dim=1)
    return {
        "n": n,
        "recognizable": n_confident / n,
        "mean_confidence": float(top.mean()),
        "class_counts": class_counts.tolist(),
        "confident_counts": confident_counts.tolist(),
        "coverage": coverage,
        "class_distance": class_distance,
        "inception_score": float(torch.exp(kl.mean())),
        "fid": _fid(features),
    }


# ---------------------------------------------------------------------------
# Grading thresholds (Inline Questions 1-3)
# ---------------------------------------------------------------------------

# Final samples (1,000, quality.sample_images) of each GAN of the notebook trained at the
# autograde budget must reach these. Calibrated by the course staff on many training runs of the
# reference solution and of typical mistakes. They hold for float32 and bfloat16 training
# alike (run_a_gan trains in bfloat16 where the hardware is fast at it; the grader trains in
# float32 unless the instructor asks for bfloat16 where it is fast). The same bounds apply on the full
# MNIST training set (the instructor's machines), where the GANs see more varied real digits.
THRESHOLDS = {
    "vanilla": {
        "min_recognizable": 0.03,
        "min_coverage": 2,
        "max_class_distance": 0.6,
        "min_inception_score": 1.1,
        "max_fid": 330.0,
    },
    "lsgan": {
        "min_recognizable": 0.06,
        "min_coverage": 2,  # 3 until seed_distributions.md showed it 2.9 sd from the mean (calibration.md)
        "max_class_distance": 0.55,
        "min_inception_score": 1.7,
        "max_fid": 260.0,
    },
    "dcgan": {
        "min_recognizable": 0.25,
        "min_coverage": 6,
        "max_class_distance": 0.3,
        "min_inception_score": 2.8,
        "max_fid": 140.0,
    },
}


def passes(metrics, gan, room=0.0):
    """
    Whether metrics (from evaluate) meet THRESHOLDS[gan], gan in "vanilla", "lsgan", "dcgan".

    room: a share (0 = the thresholds themselves) by which each bound must be beaten: a minimum is
    raised by room times itself, a maximum lowered by room times itself, the inception score's minimum
    raised by room times its excess over 1 (its floor); the coverage, a count of digits, is taken as is.
    The grader's training run stops early only with room to spare (nndl2.agent.training.UntilPassing).

    Returns (ok, reasons): ok is a bool; reasons lists one readable sentence per bound that
    was missed (empty when ok).
    """
    reasons = list(missed(metrics, gan, room).values())
    return not reasons, reasons


def missed(metrics, gan, room=0.0):
    """The bounds of THRESHOLDS[gan] that metrics miss, as passes() judges them: {bound: its sentence}."""
    if gan not in THRESHOLDS:
        raise ValueError(f"gan must be one of {', '.join(THRESHOLDS)}; got {gan!r}")
    reasons = {}
    for bound, limit in THRESHOLDS[gan].items():
        kind, key = bound.split("_", 1)
        if key not in metrics:
            raise ValueError(f"metrics has no {key!r}: pass the dict that quality.evaluate returns")
        if key == "inception_score":
            limit = 1 + (limit - 1) * (1 + room)
        elif key != "coverage":
            limit = limit * (1 + room) if kind == "min" else limit * (1 - room)
        value = metrics[key]
        if not math.isfinite(value):
            reasons[bound] = f"{key} is {value}"
        elif kind == "min" and value < limit:
            reasons[bound] = f"{key} = {value:.3g} is below the required {limit:g}"
        elif kind == "max" and value > limit:
            reasons[bound] = f"{key} = {value:.3g} is above the allowed {limit:g}"
    return reasons


# ---------------------------------------------------------------------------
# For the notebook
# ---------------------------------------------------------------------------


LABELS = {  # how margins() names each metric, and how it prints its value
    "recognizable": ("recognizable", "{:.0%}"),
    "coverage": ("digits covered", "{:d}/10"),
    "class_distance": ("class imbalance", "{:.2f}"),
    "inception_score": ("inception score", "{:.2f}"),
    "fid": ("FID", "{:.0f}"),
}


def shown(key, value):
    """Metric `key`'s value as LABELS prints it (the coverage, a count of digits, as a whole number)."""
    return LABELS[key][1].format(int(value) if key == "coverage" else value)


def margins(metrics, gan):
    """Each metric of THRESHOLDS[gan] beside its limit, e.g. "FID 95 (limit 140)", joined by commas."""
    parts = []
    for bound, limit in THRESHOLDS[gan].items():
        kind, key = bound.split("_", 1)
        label, value, limit = LABELS[key][0], shown(key, metrics[key]), shown(key, limit)
        if key == "fid":
            parts.append(f"{label} {value} (limit {limit})")
        else:
            parts.append(f"{label} {value} ({'at least' if kind == 'min' else 'at most'} {limit})")
    return ", ".join(parts)


def spread(metrics):
    """The coverage and class imbalance of `metrics`, named as margins() names them: a class histogram's title."""
    return ", ".join(f"{LABELS[key][0]} {shown(key, metrics[key])}" for key in ("coverage", "class_distance"))


def report(metrics, gan=None):
    """Print a short summary of evaluate()'s metrics; with gan ("vanilla", "lsgan", "dcgan") also the verdict.

    The verdict is PASS or FAIL against THRESHOLDS[gan], with every metric beside its limit. It is printed,
    never raised: a FAIL here does not stop the notebook.
    """
    counts = " ".join(f"{digit}:{count}" for digit, count in enumerate(metrics["class_counts"]))
    print(
        f"{metrics['n']} samples: {metrics['recognizable']:.0%} recognizable (confidence >= {CONFIDENCE}), "
        f"{metrics['coverage']}/10 digits covered\n"
        f"inception score {metrics['inception_score']:.2f} (10 = ideal), FID {metrics['fid']:.1f} (0 = real digits), "
        f"class imbalance {metrics['class_distance']:.2f} (0 = uniform)\n"
        f"predicted digits  {counts}"
    )
    if gan is not None:
        ok, _ = passes(metrics, gan)
        print(f"{'PASS' if ok else 'FAIL'} ({gan}): {margins(metrics, gan)}")


def plot_class_histogram(metrics, ax=None, title=None, legend=True):
    """
    Bar chart of the predicted digits (class_counts), recognizable samples darker.

    A GAN that covers every digit has ten bars near the dashed uniform line; mode collapse
    shows as a few tall bars. legend=False leaves the legend (and the room above the bars it
    takes) to the caller, as a figure of several histograms does. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3))
    else:
        fig = ax.figure
    digits = np.arange(10)
    ax.bar(digits, metrics["class_counts"], color="lightsteelblue", label="all samples")
    ax.bar(digits, metrics["confident_counts"], color="steelblue", label=f"confidence >= {CONFIDENCE}")
    ax.axhline(metrics["n"] / 10, color="gray", linestyle="--", linewidth=1, label="uniform")
    ax.set_xticks(digits)
    ax.set_xlabel("digit predicted by the evaluation classifier")
    ax.set_ylabel("samples")
    ax.set_title(title or spread(metrics))
    if legend:
        # Room above the tallest bar for the legend, in one row: anywhere else it would hide some bars.
        ax.set_ylim(0, 1.4 * max(max(metrics["class_counts"]), metrics["n"] / 10))
        ax.legend(fontsize="small", loc="upper center", ncol=3)
    return fig


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m nndl2.quality", description="Image-quality metrics of generated MNIST digits."
    )
    parser.add_argument(
        "file", type=Path, help=".npy file of samples in [-1, 1]: (N, 784), (N, 28, 28) or (N, 1, 28, 28)"
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument(
        "--gan", choices=sorted(THRESHOLDS), help="also check the thresholds of this GAN (exit 1 if missed)"
    )
    args = parser.parse_args(argv)
    try:
        metrics = evaluate(np.load(args.file, allow_pickle=False))
    except (OSError, ValueError) as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 2
    ok = True
    if args.gan:
        ok, reasons = passes(metrics, args.gan)
        metrics = {**metrics, "gan": args.gan, "passes": ok, "reasons": reasons}
    if args.json:
        print(json.dumps(metrics))
    else:
        report(metrics, args.gan)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
