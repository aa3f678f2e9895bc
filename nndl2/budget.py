"""How long each GAN trains in the notebook: the one place these numbers live.

The notebook reads TRAINING. Students (and TAs regenerating outputs) get the assignment's full
budget. nbgrader's autograde sets NBGRADER_EXECUTION=autograde, which selects the fixed,
shorter budget that the image-quality thresholds of Inline Questions 1-3 (nndl2/quality.py) are
calibrated for. GAN_KIT_BUDGET=full|autograde|smoke overrides both; "smoke" runs a
few iterations only (tests of the notebook's plumbing; image-quality checks then fail).

When the autograder runs your code, its settings reach every run as one read-only JSON file, named by
GAN_KIT_SETTINGS (grader_settings below): its budget is then the one in force.
"""

import json
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


SETTINGS = "GAN_KIT_SETTINGS"  # the grader's settings file (set by the autograder only)
# How the grader's training runs compute: under bfloat16 autocast or in float32 (the grader decides which; the
# training run follows what the file says).
PRECISIONS = ("bfloat16", "float32")
GRADER_KEYS = ("budget", "device", "precision", "whole_budget")  # what that file holds


def grader_settings(environ=os.environ):
    """The grader's settings file, read (GRADER_KEYS), or None outside the autograder."""
    path = environ.get(SETTINGS)
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        settings = json.load(f)
    known = isinstance(settings, dict) and sorted(settings) == sorted(GRADER_KEYS)
    if not known or settings["budget"] not in BUDGETS or settings["precision"] not in PRECISIONS:
        raise ValueError(f"{SETTINGS}={path}: not the grader's settings file ({', '.join(GRADER_KEYS)})")
    return settings


def budget_name(environ=os.environ):
    """The budget in force: the grader's (grader_settings) when autograding, else GAN_KIT_BUDGET if set, else
    "autograde" under nbgrader, else "full"."""
    grader = grader_settings(environ)
    if grader:
        return grader["budget"]
    name = environ.get("GAN_KIT_BUDGET") or (
        "autograde" if environ.get("NBGRADER_EXECUTION") == "autograde" else "full"
    )
    if name not in BUDGETS:
        raise ValueError(f"GAN_KIT_BUDGET={name!r}: choose one of {', '.join(BUDGETS)}")
    return name


BUDGET = budget_name()
TRAINING = BUDGETS[BUDGET]


BATCHES_PER_EPOCH = 50000 // 128  # the notebook's 50,000 training digits in full batches of 128 (390)


def iterations(gan, name=None):
    """How many training iterations GAN `gan` gets under budget `name` (default: the budget in force)."""
    training = BUDGETS[name or BUDGET][gan]
    total = training["num_epochs"] * BATCHES_PER_EPOCH
    return total if training["max_iters"] is None else min(total, training["max_iters"])
