"""Train the notebook's three GANs with the reference solution, exactly as the notebook does.

Used by the TA tools (grading/ta/make_outputs.py, grading/ta/calibrate.py, the benchmark). How each GAN
is built and trained is written once, in nndl2/agent/training.py (build_gan, train_gan), which the
autograder's own training run of a submission uses too: same networks, initialisation, optimizers,
losses, seed and budget (nndl2/budget.py) as the notebook's training cells.
"""

import torch

from grading.kit import load_solution
from nndl2.agent.training import BATCH_SIZE, GANS, NUM_TRAIN, build_gan, train_gan, training_batches
from nndl2.budget import BUDGETS, SEED

__all__ = ["GANS", "build", "iterations", "train"]


def build(gan, solution=None):
    """(D, G, discriminator_loss, generator_loss) of one of the notebook's GANs, on the CPU."""
    return build_gan(gan, solution or load_solution())


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
    device = torch.device(device)
    if loader is None:
        loader = training_batches(mnist_root, device=device)
    _, G, images, history = train_gan(
        gan, solution or load_solution(), loader, BUDGETS[budget][gan], seed, device, show_every, bfloat16
    )
    return G, images, history
