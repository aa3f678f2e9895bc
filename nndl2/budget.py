"""How long each GAN trains in the notebook: the one place these numbers live.

The notebook reads TRAINING. Students (and TAs regenerating outputs) get the assignment's full
budget. nbgrader's autograde sets NBGRADER_EXECUTION=autograde, which selects the fixed,
shorter budget that the image-quality thresholds of Inline Questions 1-3 are calibrated for
(grading/ta/calibration.md). GAN_KIT_BUDGET=full|autograde|smoke overrides both; "smoke" runs a
few iterations only (tests of the notebook's plumbing; image-quality checks then fail).

The optional "Going further" experiments after Inline Question 6 read GOING_FURTHER, their budget
under the same name: EXPERIMENTS below. Under "autograde" it is None and the notebook's
experiment cells train nothing (nndl2.experiments.skipped_at_grading), so grading time does not
depend on them.
"""

import os

SEED = 0  # torch.manual_seed before building each GAN, so a run can be repeated exactly

BUDGETS = {
    # The assignment: 10 epochs (3,900 iterations) for the two fully connected GANs,
    # 5 epochs (1,950 iterations) for the DCGAN.
    "full": {
        "vanilla": {"num_epochs": 10, "max_iters": None},
        "lsgan": {"num_epochs": 10, "max_iters": None},
        "dcgan": {"num_epochs": 5, "max_iters": None},
    },
    # Autograding: a whole submission in under 5 minutes on a 2-core CPU.
    "autograde": {
        "vanilla": {"num_epochs": 10, "max_iters": 1200},
        "lsgan": {"num_epochs": 10, "max_iters": 1200},
        "dcgan": {"num_epochs": 5, "max_iters": 300},
    },
    "smoke": {
        "vanilla": {"num_epochs": 1, "max_iters": 3},
        "lsgan": {"num_epochs": 1, "max_iters": 3},
        "dcgan": {"num_epochs": 1, "max_iters": 3},
    },
}


# "Going further": each experiment's training iterations (max_iters), how often run_a_gan shows
# samples and FID is measured (show_every), and how many samples the metrics use
# (nndl2.experiments.compare_gans); "latent" sets the interpolation strips and the class histograms.
# Measured at "full" on a 2-core CPU (2 torch threads, bfloat16; see README.md), about 7 minutes in all:
# smoothing 4 DCGANs x 300 iterations, optimizers 5 vanilla GANs x 1,000, fid 1 DCGAN x 1,000.
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


def budget_name(environ=os.environ):
    """The budget in force: GAN_KIT_BUDGET if set, else "autograde" under nbgrader, else "full"."""
    name = environ.get("GAN_KIT_BUDGET") or (
        "autograde" if environ.get("NBGRADER_EXECUTION") == "autograde" else "full"
    )
    if name not in BUDGETS:
        raise ValueError(f"GAN_KIT_BUDGET={name!r}: choose one of {', '.join(BUDGETS)}")
    return name


BUDGET = budget_name()
TRAINING = BUDGETS[BUDGET]
GOING_FURTHER = EXPERIMENTS[BUDGET]
