"""The notebook's three GANs, built and trained as its training cells do: the grader's own training run of
your gan.py (nndl2/agent/export.py train), the preview before you submit (nndl2/submit.py) and the TAs' tools
use these. Training itself is the notebook's loop, nndl2.training.run_a_gan; UntilPassing ends a run as soon
as its generator meets the thresholds of Inline Questions 1-3.
"""

import torch

from nndl2 import items
from nndl2.data import MNISTBatches, load_mnist
from nndl2.training import run_a_gan

GANS = tuple(items.GANS)  # the notebook's GANs, in its order (nndl2/items.py: the functions each is built with)
BATCH_SIZE = 128  # the notebook's batch_size
NUM_TRAIN = 50000  # the notebook trains on the first 50,000 digits


def training_batches(root=None, download=True, device="cpu"):
    """The notebook's training batches, which every training of its GANs reads: the first NUM_TRAIN digits of the
    MNIST folder `root` (nndl2.data.load_mnist: $MNIST_ROOT, else nndl2/), BATCH_SIZE at a time, in order, on
    `device`. download=False where there is no network (the grader's sandbox)."""
    return MNISTBatches(load_mnist(root, download=download), BATCH_SIZE, NUM_TRAIN, start=0, device=device)


def build_gan(name, gan):
    """(D, G, discriminator_loss, generator_loss) of the notebook's GAN `name`, made with module `gan`'s functions.

    As the notebook's cells: the discriminator, then the generator (the DCGAN's both get Xavier weights
    from gan.initialize_weights), on the CPU; seed torch first for repeatable weights.
    """
    if name == "vanilla":
        return gan.discriminator(), gan.generator(), gan.discriminator_loss, gan.generator_loss
    if name == "lsgan":
        return gan.discriminator(), gan.generator(), gan.ls_discriminator_loss, gan.ls_generator_loss
    if name == "dcgan":
        D, G = gan.build_dc_classifier(BATCH_SIZE), gan.build_dc_generator()
        D.apply(gan.initialize_weights)
        G.apply(gan.initialize_weights)
        return D, G, gan.discriminator_loss, gan.generator_loss
    raise ValueError(f"unknown GAN {name!r}: choose one of {', '.join(GANS)}")


def train_gan(name, gan, loader, training, seed, device="cpu", show_every=250, bfloat16=None, until_passing=False):
    """Train the notebook's GAN `name` with module `gan`'s functions (its sample_noise draws the training noise,
    as in the notebook); returns (D, G, snapshots, history).

    training: the keyword arguments of run_a_gan that set its length (nndl2.budget.TRAINING[name]).
    until_passing: stop as soon as G's samples meet Inline Question's thresholds at a checkpoint (UntilPassing);
    the grader's run and the preview do, the notebook's own cells train the whole budget.
    """
    torch.manual_seed(seed)
    D, G, d_loss, g_loss = build_gan(name, gan)
    D, G = D.to(device), G.to(device)
    if until_passing:
        loader = UntilPassing(loader, G, name, total_iterations(loader, training))
    history = {}
    images = run_a_gan(
        D, G, gan.get_optimizer(D), gan.get_optimizer(G), d_loss, g_loss, loader,
        show_every=show_every, history=history, bfloat16=bfloat16, sample_noise=gan.sample_noise, **training,
    )  # fmt: skip
    return D, G, images, history


def total_iterations(loader, training):
    """How many iterations run_a_gan trains on `loader` (its full batches) with `training`'s num_epochs, max_iters."""
    full = sum(1 for x, _ in loader if len(x) == BATCH_SIZE)
    total = training["num_epochs"] * full
    return total if training.get("max_iters") is None else min(total, training["max_iters"])


class UntilPassing:
    """The batches of `loader`, until G is good enough: then no more, and run_a_gan's training ends there.

    Inline Questions 1-3 ask whether G, trained with your functions, draws digits; the verdict is PASS as
    soon as its samples meet the thresholds, so the grader need not train on after that. At CHECKPOINTS
    (shares of the budget of `total` iterations; none in the first half, where no reference run passes)
    G's samples are evaluated as the grader does (quality.sample_images, 1,000 samples, then evaluate);
    if they meet THRESHOLDS[gan] with room to spare (ROOM: the grader evaluates again in its own process,
    and a metric exactly at a limit must not flip there), training stops. A G that never does trains the
    whole budget. Evaluating changes nothing in the run (its own random numbers, a copy of G), so a run
    stopped at a checkpoint is exactly the first iterations of the whole run.

    A run shorter than SHORTEST (the smoke budget's few iterations: no G draws digits yet) is not checked.
    `stopped_at`: the iterations trained when it stopped early (None: it did not).
    """

    CHECKPOINTS = (0.5, 0.6, 0.7, 0.8, 0.9)
    SHORTEST = 100
    ROOM = 0.03  # each metric at least 3% inside its limit (the inception score: 3% of its excess over 1)

    def __init__(self, loader, G, gan, total):
        self.loader, self.G, self.gan = loader, G, gan
        self.checkpoints = set(self.checked_after(total))
        self.done = 0  # full batches handed out: when the next is asked for, that many iterations are done
        self.stopped_at = None

    @classmethod
    def checked_after(cls, total):
        """The iterations (of a run of `total`) after which G is checked, in order: none for a run under SHORTEST."""
        return sorted({round(share * total) for share in cls.CHECKPOINTS}) if total >= cls.SHORTEST else []

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            if self.stopped_at is not None:
                return
            if len(x) == BATCH_SIZE:  # run_a_gan trains on full batches only
                if self.done in self.checkpoints and self.good_enough():
                    self.stopped_at = self.done
                    return
                self.done += 1
            yield x, y

    def good_enough(self):
        return self.passes(self.G, self.gan)

    @classmethod
    def passes(cls, G, gan):
        """Whether G's samples meet THRESHOLDS[gan] with ROOM to spare. Samples the metrics refuse (outside [-1, 1]:
        a generator without its Tanh; NaN) are not good enough: the run trains on, and the judge decides on the
        weights it exports (sampled in the reference architecture), as for any G that never passes."""
        from nndl2 import quality

        samples = quality.sample_images(G, n=1000)
        try:
            quality.as_images(samples)  # the samples' own check: finite, in [-1, 1]
        except ValueError:
            return False
        return quality.passes(quality.evaluate(samples), gan, room=cls.ROOM)[0]
