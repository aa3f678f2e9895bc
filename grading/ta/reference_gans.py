"""Train the notebook's three GANs with the reference solution, exactly as the notebook does.

Used by the TA tools (grading/ta/make_outputs.py, grading/ta/calibrate.py) so that "how GAN X is built
and trained" is written once outside the notebook: same networks, initialisation, optimizers,
losses, seed and budget (nndl2/budget.py) as the notebook's training cells.
"""

import torch

from grading.kit import load_solution
from nndl2.budget import BUDGETS, SEED
from nndl2.data import MNISTBatches, load_mnist
from nndl2.training import run_a_gan

GANS = ("vanilla", "lsgan", "dcgan")
NUM_TRAIN, BATCH_SIZE = 50000, 128


def build(gan, solution=None):
    """(D, G, discriminator_loss, generator_loss) of one of the notebook's GANs, on the CPU."""
    s = solution or load_solution()
    if gan == "vanilla":
        return s.discriminator(), s.generator(), s.discriminator_loss, s.generator_loss
    if gan == "lsgan":
        return s.discriminator(), s.generator(), s.ls_discriminator_loss, s.ls_generator_loss
    if gan == "dcgan":
        D, G = s.build_dc_classifier(BATCH_SIZE), s.build_dc_generator()
        D.apply(s.initialize_weights)
        G.apply(s.initialize_weights)
        return D, G, s.discriminator_loss, s.generator_loss
    raise ValueError(f"unknown GAN {gan!r}: choose one of {', '.join(GANS)}")


def iterations(gan, budget):
    """How many iterations `gan` trains for under `budget` (full batches of the first 50,000 digits)."""
    setting = BUDGETS[budget][gan]
    per_epoch = NUM_TRAIN // BATCH_SIZE
    total = setting["num_epochs"] * per_epoch
    return total if setting["max_iters"] is None else min(total, setting["max_iters"])


def train(
    gan,
    budget="autograde",
    seed=SEED,
    device="cpu",
    loader=None,
    mnist_root=None,
    solution=None,
    show_every=250,
    bfloat16=None,
):
    """Train one GAN as the notebook does; returns (G, snapshots, history).

    bfloat16: passed to run_a_gan (None: its automatic choice, as in the notebook).
    """
    s = solution or load_solution()
    device = torch.device(device)
    if loader is None:
        loader = MNISTBatches(load_mnist(mnist_root), BATCH_SIZE, NUM_TRAIN, start=0, device=device)
    torch.manual_seed(seed)
    D, G, d_loss, g_loss = build(gan, s)
    D, G = D.to(device), G.to(device)
    history = {}
    images = run_a_gan(
        D, G, s.get_optimizer(D), s.get_optimizer(G), d_loss, g_loss, loader,
        history=history, show_every=show_every, bfloat16=bfloat16, **BUDGETS[budget][gan],
    )  # fmt: skip
    return G, images, history
