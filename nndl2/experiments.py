"""Helpers for the notebook's optional "Going further" experiments (after Inline Question 6).

You build the networks, losses and optimizers with your own gan.py; these helpers train several
variants side by side and measure them with the kit's image-quality evaluator (nndl2/quality.py):

    dcgan = GANSetup(lambda: build_dc_classifier(batch_size), build_dc_generator,
                     discriminator_loss, generator_loss, get_optimizer, init=initialize_weights)
    runs = compare_gans({"baseline": dcgan, "N(0, 0.02) init": dcgan.but(init=init_weights_normal)},
                        loader_train, device=device, **GOING_FURTHER["smoothing"])
    plot_metrics(runs); plot_curves(runs); plot_progress(runs)

- check_init_weights_normal, check_smoothed_discriminator_loss: the visible checks of your two optional
  gan.py functions; trick_setups: Experiment 1's setups, leaving out a trick you have not written.
- compare_gans: trains each setup from the same seed on the same batches and returns a Run per setup:
  per-iteration losses, D(x), D(G(z)) and D's accuracy, FID at every show, final metrics.
- DiscriminatorAccuracy, FIDTracker: the recorders compare_gans uses (usable with run_a_gan directly).
- interpolate, generate, predict_digits: walks through the noise space and what the classifier sees.
- plot_*: the figures of the four experiments.

The budgets (iterations, sample counts) are EXPERIMENTS below, one per nndl2.budget budget; under
autograding the part is skipped (skipped_at_grading), so grading never trains any of it.
"""

import copy
import dataclasses
import functools
import math
import os
import time
from collections.abc import Callable

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.lines import Line2D
from torchvision.utils import make_grid

from nndl2 import budget, quality
from nndl2.training import run_a_gan

# ---------------------------------------------------------------------------
# Budgets, and skipping at grading
# ---------------------------------------------------------------------------

# Each experiment's training iterations (max_iters), how often run_a_gan shows samples and FID is
# measured (show_every), and how many samples the metrics use (compare_gans); "latent" sets the
# interpolation strips and the class histograms. At "full": smoothing 4 DCGANs x 300 iterations,
# optimizers 5 vanilla GANs x 1,000, fid 1 DCGAN x 1,000.
EXPERIMENTS = {
    "full": {
        "smoothing": {"max_iters": 300, "show_every": 50, "fid_samples": 1000, "final_samples": 1000},
        "optimizers": {"max_iters": 1000, "show_every": 100, "fid_samples": 1000, "final_samples": 1000},
        "fid": {"max_iters": 1000, "show_every": 50, "fid_samples": 1000, "final_samples": 1000},
        "latent": {"pairs": 4, "steps": 10, "histogram_samples": 10000},
    },
    "autograde": None,  # skipped: autograding trains nothing of this part
    "smoke": {
        "smoothing": {"max_iters": 3, "show_every": 1, "fid_samples": 100, "final_samples": 100},
        "optimizers": {"max_iters": 3, "show_every": 1, "fid_samples": 100, "final_samples": 100},
        "fid": {"max_iters": 3, "show_every": 1, "fid_samples": 100, "final_samples": 100},
        "latent": {"pairs": 2, "steps": 5, "histogram_samples": 200},
    },
}
GOING_FURTHER = EXPERIMENTS[budget.BUDGET]  # the budget in force (nndl2.budget.BUDGET: full, autograde, smoke)


def skipped_at_grading():
    """True, after saying so, when the budget in force has no experiments (autograding) or nbgrader is
    autograding under another budget (the tests' smoke budget): then run nothing."""
    if GOING_FURTHER is None:
        print(f"Going further is skipped under the {budget.BUDGET!r} budget: nothing is trained here.")
        return True
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print("Going further is skipped at grading: nothing is trained here.")
        return True
    return False


# ---------------------------------------------------------------------------
# Your two optional tricks: gan.py's init_weights_normal and smoothed_discriminator_loss
# ---------------------------------------------------------------------------


def written(call):
    """True when call() runs without NotImplementedError: the optional stub it calls has been written.

    torch's random generator is left as it was (call() may build layers), so asking changes no training run.
    """
    with torch.random.fork_rng(devices=[]):
        try:
            call()
        except NotImplementedError:
            return False
    return True


def check_init_weights_normal(init_weights_normal):
    """
    The visible check of gan.py's init_weights_normal. Prints what it finds; never raises. Returns True if right.

    A probe network (Conv2d, ConvTranspose2d, Linear, BatchNorm1d) gets model.apply(init_weights_normal):
    the weights of the first three must have mean 0 and standard deviation 0.02 (within 0.002); their
    biases and the BatchNorm layer must stay as PyTorch made them.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        probe = nn.Sequential(nn.Conv2d(1, 64, 5), nn.ConvTranspose2d(64, 32, 4), nn.Linear(1024, 1024))
        probe.append(nn.BatchNorm1d(1024))
        with torch.no_grad():
            probe[3].weight.uniform_(0.5, 1.5)  # so that a BatchNorm drawn from N(0, 0.02) shows
        before = copy.deepcopy(probe.state_dict())
        try:
            probe.apply(init_weights_normal)
        except NotImplementedError:
            print("init_weights_normal is not written yet (optional): Experiment 1 runs without it.")
            return False
        except Exception as error:  # a mistake in the student's code: say it, don't stop "Run all"
            print(f"FAIL: init_weights_normal raised {type(error).__name__}: {error}")
            return False
    problems = []
    for index, layer in enumerate(probe[:3]):
        weight = layer.weight.detach()
        mean, std = weight.mean().item(), weight.std().item()
        if abs(mean) > 0.002 or abs(std - 0.02) > 0.002:
            problems.append(f"{type(layer).__name__}: weights of mean {mean:.4f} and std {std:.4f}, not 0 and 0.02")
        if not torch.equal(layer.bias, before[f"{index}.bias"]):
            problems.append(f"{type(layer).__name__}: the bias changed (leave biases as they are)")
    if any(not torch.equal(value, before[f"3.{key}"]) for key, value in probe[3].state_dict().items()):
        problems.append("BatchNorm1d changed (only convolutions and linear layers get N(0, 0.02) weights)")
    if problems:
        print("FAIL: init_weights_normal: " + "; ".join(problems))
        return False
    print("init_weights_normal: weights of Conv2d, ConvTranspose2d and Linear ~ N(0, 0.02), the rest untouched. PASS")
    return True


def check_smoothed_discriminator_loss(smoothed_discriminator_loss, discriminator_loss):
    """
    The visible check of gan.py's smoothed_discriminator_loss. Prints what it finds; never raises. True if right.

    Binary cross-entropy is linear in its label, and for a logit s, bce(s, 1) - bce(s, 0) = -s. So the real
    label y instead of 1 adds (1 - y) * mean(logits_real) to discriminator_loss, exactly: the check compares
    with that (it relies on your discriminator_loss, checked above), for the labels 0.9, 0.8 and 1.
    """
    generator = torch.Generator().manual_seed(0)
    real, fake = 3 * torch.randn(64, 1, generator=generator), 3 * torch.randn(64, 1, generator=generator)
    problems = []
    for label in (0.9, 0.8, 1.0):
        try:
            value = smoothed_discriminator_loss(real, fake, real_label=label)
        except NotImplementedError:
            print("smoothed_discriminator_loss is not written yet (optional): Experiment 1 runs without it.")
            return False
        except Exception as error:
            print(f"FAIL: smoothed_discriminator_loss raised {type(error).__name__}: {error}")
            return False
        expected = discriminator_loss(real, fake) + (1 - label) * real.mean()
        if not torch.is_tensor(value) or value.numel() != 1:
            problems.append(f"real_label={label:g}: it should return one number (a tensor), got {type(value).__name__}")
        elif abs(value.item() - expected.item()) > 1e-5 * (1 + abs(expected.item())):
            problems.append(f"real_label={label:g}: {value.item():.6f}, expected {expected.item():.6f}")
    if problems:
        print("FAIL: smoothed_discriminator_loss: " + "; ".join(problems) + " (real images get real_label, fakes 0)")
        return False
    print("smoothed_discriminator_loss: real label 0.9, 0.8 and 1 give the expected losses. PASS")
    return True


def trick_setups(baseline, init_weights_normal, smoothed_discriminator_loss, real_label=0.9):
    """
    Experiment 1's setups, {name: GANSetup}: the baseline, and each of your two tricks that is written, alone
    and together. A trick whose stub is not written is left out, with a line that says so.
    """
    has_init = written(lambda: nn.Linear(2, 2).apply(init_weights_normal))
    has_smoothing = written(lambda: smoothed_discriminator_loss(torch.zeros(2, 1), torch.zeros(2, 1), real_label))
    smoothed = functools.partial(smoothed_discriminator_loss, real_label=real_label)
    setups = {"baseline (Xavier init, labels 1/0)": baseline}
    if has_smoothing:
        setups[f"label smoothing (real label {real_label:g})"] = baseline.but(discriminator_loss=smoothed)
    else:
        print("Skipped: label smoothing (smoothed_discriminator_loss in gan.py is not written yet; optional).")
    if has_init:
        setups["N(0, 0.02) init"] = baseline.but(init=init_weights_normal)
    else:
        print("Skipped: N(0, 0.02) init (init_weights_normal in gan.py is not written yet; optional).")
    if has_init and has_smoothing:
        both = baseline.but(init=init_weights_normal, discriminator_loss=smoothed)
        setups["N(0, 0.02) init + label smoothing"] = both
    return setups


def describe_budget(experiments=None):
    """Print each experiment's length in words (the budget in force, GOING_FURTHER): no dictionaries."""
    experiments = GOING_FURTHER if experiments is None else experiments
    print(f"Going further with the {budget.BUDGET!r} budget:")
    for name, what in (("smoothing", "Experiment 1 (DCGANs)"), ("optimizers", "Experiment 2 (vanilla GANs)"),
                       ("fid", "Experiment 3 (DCGAN)")):  # fmt: skip
        e = experiments[name]
        every = "every iteration" if e["show_every"] == 1 else f"every {e['show_every']:,} iterations"
        print(f"  {what}: {e['max_iters']:,} iterations per setup, FID of {e['fid_samples']:,} samples {every}, "
              f"final metrics on {e['final_samples']:,} samples")  # fmt: skip
    latent = experiments["latent"]
    print(f"  Experiment 4: {latent['pairs']} interpolations of {latent['steps']} steps, class histograms of "
          f"{latent['histogram_samples']:,} samples per generator")  # fmt: skip


# ---------------------------------------------------------------------------
# Recorders for run_a_gan
# ---------------------------------------------------------------------------


class DiscriminatorAccuracy:
    """
    A discriminator loss that also records D's accuracy on every batch it scores.

    Pass it to run_a_gan instead of the loss. Accuracy = share of the 2N images D classifies
    correctly: real ones with a logit above `threshold` (0: sigmoid above 0.5), fakes with one
    below it; for the LSGAN's scores (targets 1 and 0) use threshold=0.5. The values stay tensors
    until `values` is read, so the training loop never waits for them.
    """

    def __init__(self, discriminator_loss, threshold=0.0):
        self.discriminator_loss = discriminator_loss
        self.threshold = threshold
        self._values = []

    def __call__(self, logits_real, logits_fake):
        with torch.no_grad():
            correct = (logits_real > self.threshold).float().mean() + (logits_fake < self.threshold).float().mean()
            self._values.append(correct / 2)
        return self.discriminator_loss(logits_real, logits_fake)

    @property
    def values(self):
        """D's accuracy per call, as floats in [0, 1]."""
        return torch.stack(self._values).cpu().tolist() if self._values else []


class FIDTracker:
    """
    on_show callback for run_a_gan: the image-quality metrics of n samples of G at every show.

    Uses quality.sample_images (a copy of G, its own noise seed: training is not disturbed) and
    quality.evaluate. Keeps iterations, fid and recognizable as lists, one entry per show.
    """

    def __init__(self, n=1000, noise_dim=96, seed=0):
        if n < quality.MIN_SAMPLES:
            raise ValueError(f"FIDTracker needs n >= {quality.MIN_SAMPLES} samples, got {n}")
        self.n, self.noise_dim, self.seed = n, noise_dim, seed
        self.iterations, self.fid, self.recognizable = [], [], []

    def __call__(self, iteration, G):
        metrics = quality.evaluate(quality.sample_images(G, n=self.n, noise_dim=self.noise_dim, seed=self.seed))
        self.iterations.append(iteration)
        self.fid.append(metrics["fid"])
        self.recognizable.append(metrics["recognizable"])


# ---------------------------------------------------------------------------
# Training several GANs side by side
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class GANSetup:
    """
    How to build and train one GAN, from your gan.py's functions.

    - build_D, build_G: functions of no arguments returning the networks (on the CPU).
    - discriminator_loss, generator_loss: the losses run_a_gan calls.
    - optimizer: function of a model returning its optimizer (get_optimizer, or your own).
    - init: if given, applied to D and G with model.apply (initialize_weights, init_weights_normal).
    """

    build_D: Callable[[], nn.Module]
    build_G: Callable[[], nn.Module]
    discriminator_loss: Callable
    generator_loss: Callable
    optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    init: Callable[[nn.Module], None] | None = None

    def but(self, **changes):
        """A copy with some fields changed, e.g. setup.but(init=init_weights_normal)."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class Run:
    """One trained setup: what compare_gans measured."""

    name: str
    history: dict  # per iteration: d_loss, g_loss, d_real, d_fake (run_a_gan) and d_accuracy
    fid_iterations: list  # the iterations at which FID was measured: every show_every, and the last one
    fid: list  # FID of fid_samples samples at those iterations
    recognizable: list  # share of recognizable samples at those iterations
    samples: np.ndarray  # (final_samples, 784) samples of the trained G, in [-1, 1]
    metrics: dict  # quality.evaluate(samples)
    seconds: float  # training time, the FID measurements included
    grids: list  # run_a_gan's 16 samples of fixed noise at every show (the first len(grids) fid_iterations)
    G: nn.Module  # the trained generator


def compare_gans(
    setups,
    loader,
    *,
    max_iters,
    show_every,
    fid_samples=1000,
    final_samples=1000,
    device="cpu",
    batch_size=128,
    noise_size=96,
    seed=budget.SEED,
    num_epochs=None,
):
    """
    Train every setup of `setups` ({name: GANSetup}) for max_iters iterations; returns {name: Run}.

    Each one starts from torch.manual_seed(seed) and builds its networks in the notebook's order
    (D, init of D, G, init of G), and every run sees the same batches: a setup that equals the
    notebook's DCGAN trains exactly as the notebook's DCGAN did, for max_iters iterations.
    FID (fid_samples samples) is measured every show_every iterations and after the last one, the
    final metrics on final_samples samples. num_epochs: enough passes over `loader` for max_iters (default).
    """
    if not setups:
        raise ValueError("compare_gans needs at least one setup")
    device = torch.device(device)
    if num_epochs is None:  # a partial last batch is skipped: at least len(loader) - 1 full ones per pass
        num_epochs = math.ceil(max_iters / max(1, len(loader) - 1))
    runs = {}
    for name, setup in setups.items():
        print(f"--- {name} ---")
        torch.manual_seed(seed)
        D = setup.build_D().to(device)
        if setup.init is not None:
            D.apply(setup.init)
        G = setup.build_G().to(device)
        if setup.init is not None:
            G.apply(setup.init)
        accuracy = DiscriminatorAccuracy(setup.discriminator_loss)
        tracker = FIDTracker(fid_samples, noise_size)
        history = {}
        start = time.perf_counter()
        grids = run_a_gan(
            D, G, setup.optimizer(D), setup.optimizer(G), accuracy, setup.generator_loss, loader,
            show_every=show_every, batch_size=batch_size, noise_size=noise_size, num_epochs=num_epochs,
            max_iters=max_iters, history=history, on_show=tracker,
        )  # fmt: skip
        last = len(history.get("d_loss", [])) - 1
        if last >= 0 and last not in tracker.iterations:  # the curve ends at the trained generator
            tracker(last, G)
        seconds = time.perf_counter() - start
        history["d_accuracy"] = accuracy.values
        samples = quality.sample_images(G, n=final_samples, noise_dim=noise_size)
        metrics = quality.evaluate(samples)
        runs[name] = Run(
            name, history, tracker.iterations, tracker.fid, tracker.recognizable, samples, metrics, seconds, grids, G
        )
        print(
            f"{name}: {seconds:.0f} s, FID {metrics['fid']:.1f}, {metrics['recognizable']:.0%} recognizable, "
            f"{metrics['coverage']}/10 digits, inception score {metrics['inception_score']:.2f}"
        )
    return runs


# ---------------------------------------------------------------------------
# The noise space
# ---------------------------------------------------------------------------


def interpolate(z0, z1, steps):
    """
    `steps` noise vectors evenly spaced on the straight line from z0 to z1: (steps, dim).

    The first is z0 and the last is z1, exactly (torch.lerp is exact at both ends).
    """
    z0, z1 = torch.as_tensor(z0), torch.as_tensor(z1)
    if z0.dim() != 1 or z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must be vectors of the same length, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two ends), got {steps}")
    weights = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device).unsqueeze(1)
    return torch.lerp(z0.expand(steps, -1), z1.expand(steps, -1), weights)


def generate(G, z, batch_size=128, seed=0):
    """
    G's images for the noise vectors z (n, dim): numpy (n, 784) in [-1, 1]; G is left untouched.

    The notebook's generators are never switched to eval mode, so a DCGAN's BatchNorm normalizes
    with the statistics of the batch it is given. A batch of ten neighbouring points of one line
    has other statistics than a training batch, so z is padded with random noise (its own
    generator, `seed`) to batch_size: each image then looks as it would in a training batch.
    """
    z = torch.as_tensor(z, dtype=torch.float32).cpu()
    G = copy.deepcopy(G)
    device = next(G.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    images = []
    with torch.no_grad():
        for chunk in z.split(batch_size):
            pad = 2 * torch.rand(batch_size - len(chunk), z.shape[1], generator=rng) - 1
            out = G(torch.cat([chunk, pad]).to(device))
            images.append(out[: len(chunk)].reshape(len(chunk), -1).float().cpu())
    return torch.cat(images).numpy()


def class_histograms(generators, n=10000, noise_dim=96):
    """{name: quality.evaluate(n samples of G)} for {name: G}: class_counts is each one's class histogram."""
    return {name: quality.evaluate(quality.sample_images(G, n, noise_dim)) for name, G in generators.items()}


def predict_digits(images, classifier=None):
    """The evaluation classifier's verdict on each image: (digits, confidences), numpy arrays of length N."""
    images = quality.as_images(images, min_samples=1)
    classifier = classifier or quality.load_classifier()
    with torch.no_grad():
        probs = F.softmax(classifier(images), dim=1)
    confidence, digits = probs.max(dim=1)
    return digits.numpy(), confidence.numpy()


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


def moving_average(values, window):
    """(x, y): the moving average of `values` over `window` iterations, x at each window's centre."""
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    y = np.convolve(values, np.ones(window) / window, mode="valid")
    return np.arange(len(y)) + (window - 1) / 2, y


def _grid(images, columns):
    """One (H, W) picture of images (N, 784) in [-1, 1], `columns` per row, white padding."""
    tensor = torch.as_tensor(np.asarray(images), dtype=torch.float32).reshape(-1, 1, 28, 28)
    grid = make_grid(tensor, nrow=columns, padding=1, normalize=True, value_range=(-1, 1), pad_value=1.0)
    return grid[0].numpy()


def show_samples(runs, n=25):
    """The first n final samples of each run, one grid per run, titled with its FID."""
    runs = list(runs.values())
    fig, axes = plt.subplots(1, len(runs), figsize=(2.8 * len(runs), 3.3), squeeze=False)
    for ax, run in zip(axes[0], runs, strict=True):
        ax.imshow(_grid(run.samples[:n], int(math.ceil(math.sqrt(n)))), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{run.name}\nFID {run.metrics['fid']:.0f}", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


METRICS = (  # (key, axis label, better)
    ("recognizable", "recognizable share", "higher"),
    ("coverage", "digits covered (of 10)", "higher"),
    ("inception_score", "inception score", "higher"),
    ("fid", "FID", "lower"),
)


def plot_metrics(runs):
    """The final image-quality metrics of each run as bars, one panel per metric."""
    names = list(runs)
    colors = [f"C{i}" for i in range(len(names))]
    fig, axes = plt.subplots(1, len(METRICS), figsize=(13, 3.4))
    for ax, (key, label, better) in zip(axes, METRICS, strict=True):
        values = [runs[name].metrics[key] for name in names]
        bars = ax.bar(range(len(names)), values, color=colors)
        ax.bar_label(bars, labels=[f"{v:.2f}" if key == "recognizable" else f"{v:.3g}" for v in values], fontsize=8)
        ax.set_xticks(range(len(names)), [str(i + 1) for i in range(len(names))])
        ax.set_xlabel("setup")
        ax.set_title(f"{label} ({better} is better)", fontsize=10)
        ax.margins(y=0.15)
    fig.legend(
        [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors],
        [f"{i + 1}: {name}" for i, name in enumerate(names)],
        loc="lower center",
        ncol=min(len(names), 4),
        fontsize=9,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


# Labels per decade of a log axis, by the most decades they suit: fewer the wider the range drawn.
LOG_AXIS_LABELS = (
    (0.6, (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)),  # FID between 190 and 410, say
    (1.5, (1, 2, 3, 5)),
    (2.5, (1, 2, 5)),
    (math.inf, (1,)),  # a loss that fell to 1e-8: one label per decade
)


def _log_axis(ax):
    """
    A log-scale y axis labelled with plain numbers (20, 50, 100...), which read better than powers of ten.

    Call it after plotting: the labels per decade follow the range drawn, so that a run whose loss
    fell to 1e-8 gets one label per decade instead of a pile of overlapping ones.
    """
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    decades = math.log10(high / low)
    subs = next(subs for most, subs in LOG_AXIS_LABELS if decades <= most)
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=subs, numticks=10))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def plot_curves(runs, smooth=25):
    """D loss, G loss (log scales: one diverging run would flatten the others) and D's accuracy, one line per run."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    panels = (
        ("d_loss", "discriminator loss (log scale)"),
        ("g_loss", "generator loss (log scale)"),
        ("d_accuracy", "discriminator accuracy on real + fake"),
    )
    for ax, (key, title) in zip(axes, panels, strict=True):
        for i, run in enumerate(runs.values()):
            ax.plot(*moving_average(run.history[key], smooth), color=f"C{i}", label=run.name, linewidth=1.2)
        ax.set_xlabel("iteration")
        ax.set_title(f"{title}\n(moving average of {smooth})", fontsize=10)
    _log_axis(axes[0])
    _log_axis(axes[1])
    axes[2].axhline(0.5, color="gray", linewidth=0.8, linestyle="--")
    axes[2].set_ylim(0, 1.02)
    axes[2].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_progress(runs, smooth=25):
    """FID at every show (left, log scale) and D(x), D(G(z)) per iteration (right, moving averages), per run."""
    fig, (fid_ax, beliefs) = plt.subplots(1, 2, figsize=(13, 4))
    for i, run in enumerate(runs.values()):
        fid_ax.plot(run.fid_iterations, run.fid, "o-", color=f"C{i}", markersize=3, label=run.name)
        beliefs.plot(*moving_average(run.history["d_real"], smooth), color=f"C{i}")
        beliefs.plot(*moving_average(run.history["d_fake"], smooth), color=f"C{i}", linestyle="--")
    _log_axis(fid_ax)
    fid_ax.set_xlabel("iteration")
    fid_ax.set_ylabel("FID (log scale)")
    fid_ax.set_title("FID to real digits (lower is better)", fontsize=10)
    fid_ax.legend(fontsize=8)
    beliefs.axhline(0.5, color="gray", linewidth=0.8)
    beliefs.set_ylim(0, 1)
    beliefs.set_xlabel("iteration")
    beliefs.set_ylabel("mean sigmoid of D's output")
    beliefs.set_title(f"D's belief that images are real (moving average of {smooth})", fontsize=10)
    styles = [Line2D([], [], color="black"), Line2D([], [], color="black", linestyle="--")]
    beliefs.legend(styles, ["D(x): real images", "D(G(z)): fakes"], fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def plot_snapshots(run, count=6):
    """`count` of the run's progress grids (fixed noise), evenly spaced, titled with the iteration and its FID."""
    picks = np.unique(np.linspace(0, len(run.grids) - 1, min(count, len(run.grids))).round().astype(int))
    fig, axes = plt.subplots(1, len(picks), figsize=(2.2 * len(picks), 2.7), squeeze=False)
    for ax, index in zip(axes[0], picks, strict=True):
        ax.imshow(_grid(run.grids[index], 4), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"iteration {run.fid_iterations[index]}\nFID {run.fid[index]:.0f}", fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{run.name}: the same 16 noise vectors during training", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def plot_interpolations(rows, classifier=None):
    """
    Each row of images (steps, 784) as a strip, every image titled with the classifier's digit and confidence.

    rows: a list of arrays from generate(G, interpolate(z0, z1, steps)).
    """
    rows = [np.asarray(row) for row in rows]
    steps = len(rows[0])
    fig, axes = plt.subplots(len(rows), steps, figsize=(1.2 * steps, 1.45 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        digits, confidence = predict_digits(row, classifier)
        for c, image in enumerate(row):
            ax = axes[r, c]
            ax.imshow(image.reshape(28, 28), cmap="gray", vmin=-1, vmax=1)
            sure = confidence[c] >= quality.CONFIDENCE
            ax.set_title(f"{digits[c]} ({confidence[c]:.2f})", fontsize=8, color="black" if sure else "gray")
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("z0", rotation=0, labelpad=10)
    axes[0, -1].yaxis.set_label_position("right")
    axes[0, -1].set_ylabel("z1", rotation=0, labelpad=10)
    fig.suptitle("from z0 (left) to z1 (right) in equal steps; title: predicted digit (confidence)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_class_histograms(metrics_by_name, real_counts=None):
    """
    One class histogram (quality.plot_class_histogram) per generator, side by side.

    real_counts: optional label counts of the training digits (10 numbers); drawn as black ticks
    scaled to the number of samples, the share each digit has in real MNIST.
    """
    fig, axes = plt.subplots(1, len(metrics_by_name), figsize=(4.6 * len(metrics_by_name), 3.6), squeeze=False)
    for ax, (name, metrics) in zip(axes[0], metrics_by_name.items(), strict=True):
        quality.plot_class_histogram(
            metrics,
            ax=ax,
            title=f"{name}: {metrics['n']:,} samples\n{quality.spread(metrics)}",
            legend=False,  # one legend for all, below: inside, it would hide bars
        )
        if real_counts is not None:
            real = np.asarray(real_counts, dtype=float)
            ax.scatter(np.arange(10), real / real.sum() * metrics["n"], marker="_", s=300, color="black",
                       label="share in the training digits", zorder=3)  # fmt: skip
        ax.title.set_fontsize(10)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
