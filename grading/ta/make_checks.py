"""Regenerate (or verify) nndl2/gan-checks.npz, the loss checks of the notebook.

    python -m grading.ta.make_checks            # rewrite nndl2/gan-checks.npz
    python -m grading.ta.make_checks --verify   # exit 1 unless the committed file matches the solution

The logits are drawn from a fixed seed; every expected loss and its gradients with respect to the
logits (`<loss>_grad_real`, `<loss>_grad_fake`) are computed by the reference solution in float64,
so the same seed always gives the same values.
"""

import argparse
import sys

import numpy as np
import torch

from grading.kit import KIT_DATA, load_solution

CHECKS = KIT_DATA / "gan-checks.npz"
SEED = 231
BATCH = 64


def make_checks(seed=SEED, batch=BATCH):
    """The arrays of gan-checks.npz: inputs and the solution's losses on them."""
    gan = load_solution()
    rng = np.random.default_rng(seed)
    logits_real = rng.normal(1.0, 2.0, size=(batch, 1))
    logits_fake = rng.normal(-1.0, 2.0, size=(batch, 1))
    checks = {"seed": np.array(seed), "logits_real": logits_real, "logits_fake": logits_fake}
    for key, loss, arguments in [
        ("d_loss", gan.discriminator_loss, ("real", "fake")),
        ("g_loss", gan.generator_loss, ("fake",)),
        ("d_loss_lsgan", gan.ls_discriminator_loss, ("real", "fake")),
        ("g_loss_lsgan", gan.ls_generator_loss, ("fake",)),
    ]:
        tensors = [torch.tensor(checks[f"logits_{a}"], requires_grad=True) for a in arguments]
        value = loss(*tensors)
        checks[f"{key}_true"] = value.detach().numpy()
        for argument, grad in zip(arguments, torch.autograd.grad(value, tensors), strict=True):
            checks[f"{key}_grad_{argument}"] = grad.numpy()
    return checks


def differences(expected, path=CHECKS):
    """Human-readable differences between `expected` arrays and the file at `path`."""
    if not path.exists():
        return [f"{path} does not exist"]
    found = dict(np.load(path))
    problems = [f"missing key {key}" for key in expected if key not in found]
    problems += [f"unexpected key {key}" for key in found if key not in expected]
    for key in expected.keys() & found.keys():
        a, b = expected[key], found[key]
        if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
            problems.append(f"{key}: file has {b.dtype}{b.shape}, solution gives {a.dtype}{a.shape} / other values")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verify", action="store_true", help="compare instead of writing")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    expected = make_checks(args.seed)
    if args.verify:
        problems = differences(expected)
        for problem in problems:
            print(f"gan-checks.npz: {problem}", file=sys.stderr)
        if not problems:
            print(f"{CHECKS} matches the reference solution (seed {args.seed})")
        return 1 if problems else 0
    np.savez(CHECKS, **expected)
    print(f"wrote {CHECKS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
