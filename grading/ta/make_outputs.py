"""Regenerate (or verify) nndl2/gan_outputs.png: final samples of the solution's three GANs.

    MNIST_ROOT=DIR python -m grading.ta.make_outputs              # trains all three at the full budget
    python -m grading.ta.make_outputs --verify                    # was the committed image made from this solution?

Each GAN is trained exactly as the notebook trains it (grading/ta/reference_gans.py), in float32 (as on
Colab's T4, whatever this CPU is fast at), and 16 samples of its generator are drawn in a torchvision grid.
The PNG records how it was made (solution code checksum, budget, seed, data folder, precision, threads,
quality metrics) in its text metadata; --verify compares the
recorded checksum with the current code (the solution and nndl2's training loop; docstrings and
comments left out).
"""

import argparse
import ast
import hashlib
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from grading.kit import KIT_DATA, SOLUTION_GAN  # noqa: E402
from grading.ta import reference_gans  # noqa: E402
from nndl2 import quality  # noqa: E402
from nndl2.budget import SEED  # noqa: E402
from nndl2.data import mnist_root  # noqa: E402

OUTPUTS = KIT_DATA / "gan_outputs.png"
TITLES = {"vanilla": "Vanilla GAN", "lsgan": "LSGAN", "dcgan": "DCGAN"}


# What the image depends on: the reference solution and the training loop, as code (docstrings and
# comments do not change a trained GAN, so editing them does not ask for a retrain).
TRAINING_CODE = (
    SOLUTION_GAN,
    KIT_DATA / "training.py",
    KIT_DATA / "agent" / "training.py",
    KIT_DATA / "speed.py",
    KIT_DATA / "budget.py",
)
TRAINED_BY = tuple(path for path in TRAINING_CODE if path != SOLUTION_GAN)  # the code that trains any gan.py


def code_only(source):
    """`source` without comments and docstrings (ast.unparse of the tree with every docstring removed)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def solution_checksum(paths=TRAINING_CODE):
    digest = hashlib.sha256()
    for path in paths:
        digest.update(code_only(Path(path).read_text()).encode() + b"\0")
    return digest.hexdigest()


def make_outputs(budget="full", seed=SEED, device="cpu", path=OUTPUTS):
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    record = {"solution_sha256": solution_checksum(), "budget": budget, "seed": seed, "mnist_root": str(mnist_root()),
              "device": str(device), "precision": "float32", "threads": torch.get_num_threads(),
              "metrics": {}}  # fmt: skip
    for axis, gan in zip(axes, reference_gans.GANS, strict=True):
        start = time.perf_counter()
        G, _, _ = reference_gans.train(gan, budget=budget, seed=seed, device=device, bfloat16=False)
        samples = quality.sample_images(G, n=1000, seed=seed)
        metrics = quality.evaluate(samples)
        record["metrics"][gan] = {key: metrics[key] for key in ("recognizable", "coverage", "inception_score", "fid")}
        print(f"{gan}: trained in {time.perf_counter() - start:.0f} s; {json.dumps(record['metrics'][gan])}")
        grid = make_grid(
            quality.as_images(samples[:16], min_samples=1).cpu() * 0.5 + 0.5, nrow=4, padding=2, pad_value=1.0
        )
        axis.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        axis.set_title(TITLES[gan])
        axis.axis("off")
    iterations = ", ".join(f"{TITLES[g]} {reference_gans.iterations(g, budget)}" for g in reference_gans.GANS)
    figure.suptitle(f"Reference solution, {budget} budget ({iterations} iterations)")
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Description": json.dumps(record)})
    print(f"wrote {path}")
    return record


def recorded(path=OUTPUTS):
    """The provenance record stored in the PNG (or None)."""
    with Image.open(path) as image:
        text = image.text.get("Description")
    return json.loads(text) if text else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--budget", choices=["full", "autograde", "smoke"], default="full")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.verify:
        record = recorded() if OUTPUTS.exists() else None
        if not record or record.get("solution_sha256") != solution_checksum():
            print(
                f"{OUTPUTS} was not made from the current solution: run python -m grading.ta.make_outputs",
                file=sys.stderr,
            )
            return 1
        print(f"{OUTPUTS} was made from the current solution ({record['budget']} budget, seed {record['seed']})")
        return 0
    make_outputs(args.budget, args.seed, args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
