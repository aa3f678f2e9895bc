"""Where the grader's training runs stop: image quality along whole training runs, at UntilPassing's checkpoints.

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.trajectories --seeds 0 1 2        # the reference, three seeds
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.trajectories --mutants --seeds 0    # the training-breaking mutants
    python -m grading.ta.trajectories --report-only                                   # rewrite the report

The grader's training run of each GAN stops as soon as the generator's samples meet the thresholds of
Inline Questions 1-3 with room to spare at one of nndl2.agent.training.UntilPassing's checkpoints. This
command trains whole runs (the autograde budget, float32, one thread, seed as the grader's SEED + seed)
and evaluates the generator at every `--every` iterations as the grader does (quality.sample_images,
1,000 samples, quality.evaluate); evaluating changes nothing in a run, so one whole run shows where
every shorter one would end. It keeps each run as JSON in --cache (resumable: a run kept is not
trained again) and writes grading/ta/trajectories.md: for the reference, the iteration each GAN
stops at; for each corpus mutant whose bug ruins a GAN (tests/corpus/index.py, `spoils`), whether that
GAN ever meets the thresholds, at any checkpoint (it must not: its Inline Question would pass).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from grading.kit import GRADING, SOLUTION_GAN, import_file
from nndl2 import quality
from nndl2.agent.training import GANS, UntilPassing, build_gan, training_batches
from nndl2.budget import BUDGETS, SEED, iterations
from nndl2.training import run_a_gan

REPORT = GRADING / "ta" / "trajectories.md"
DEFAULT_CACHE = Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit")) / "trajectories"
SHOWN = ("recognizable", "coverage", "class_distance", "inception_score", "fid")


def checkpoints(gan, budget="autograde"):
    """UntilPassing's checkpoints of `gan` under `budget`, and the budget's end: (sorted iterations, total)."""
    total = iterations(gan, budget)
    return sorted(UntilPassing(None, None, gan, total).checkpoints), total


def trajectory(gan_py, gan, seed, loader, budget="autograde"):
    """Train `gan` with the gan.py at `gan_py` (seed SEED + seed, float32) for the whole budget; its metrics at
    each of UntilPassing's checkpoints and at the end."""
    at, total = checkpoints(gan, budget)
    at = set(at) | {total}
    module = import_file(gan_py, f"trajectory_{Path(gan_py).stem}")
    torch.manual_seed(SEED + seed)
    D, G, d_loss, g_loss = build_gan(gan, module)
    D_solver, G_solver = module.get_optimizer(D), module.get_optimizer(G)
    rows, start, paused = [], time.perf_counter(), 0.0

    def after_step(*_):  # an optimizer step hook: G's step ends each iteration
        nonlocal paused
        done = len(steps) + 1
        steps.append(done)
        if done in at:
            begin = time.perf_counter()
            metrics = quality.evaluate(quality.sample_images(G, n=1000))
            rows.append({"iteration": done, "seconds": begin - start - paused, **{k: metrics[k] for k in SHOWN}})
            paused += time.perf_counter() - begin

    steps = []
    G_solver.register_step_post_hook(after_step)
    run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, loader, show_every=10**9, bfloat16=False,
              sample_noise=module.sample_noise, **BUDGETS[budget][gan])  # fmt: skip
    return rows


def stop(rows, gan, total):
    """(iteration, metrics) where UntilPassing stops on this trajectory: its first checkpoint met with room, else
    the end of the budget (the metrics there, judged against the thresholds themselves)."""
    by_iteration = {row["iteration"]: row for row in rows}
    for checkpoint in checkpoints(gan)[0]:
        row = by_iteration.get(checkpoint)
        if row is None:
            raise ValueError(f"no metrics at checkpoint {checkpoint}: the run was made with other checkpoints")
        if quality.passes(row, gan, room=UntilPassing.ROOM)[0]:
            return checkpoint, row
    return total, by_iteration.get(total)


def spoiling_mutants():
    """{name: (gan.py text, the GANs its bug ruins)} of the corpus (tests/corpus/index.py MUTANTS, `spoils`)."""
    from tests.corpus import mutant_gan
    from tests.corpus.index import MUTANTS

    gans = {f"test_inline_q{number}": gan for number, gan in enumerate(GANS, 1)}
    return {
        f"{m['style']}-{m['function']}": (mutant_gan(m["style"], m["function"]), [gans[q] for q in m["spoils"]])
        for m in MUTANTS
        if m["spoils"]
    }


def report(cache):
    """The markdown report of every run kept in `cache`."""
    runs = [json.loads(path.read_text()) for path in sorted(Path(cache).glob("*.json"))]
    schedule = {gan: checkpoints(gan) for gan in GANS}
    totals = {gan: total for gan, (_, total) in schedule.items()}
    lines = [
        "# Where the grader's training runs stop",
        "",
        "Generated by `python -m grading.ta.trajectories` (do not edit by hand). Each GAN trains until its",
        "samples meet the thresholds (nndl2/quality.py THRESHOLDS) with room to spare "
        f"(UntilPassing.ROOM = {UntilPassing.ROOM}) at a checkpoint",
        "(nndl2/agent/training.py UntilPassing), at most the autograde budget: "
        + "; ".join(
            f"{gan} {total:,} iterations, checkpoints at {', '.join(map(str, at))}"
            for gan, (at, total) in schedule.items()
        )  # fmt: skip
        + ".",
        "Runs: float32, one thread, seed SEED + seed, MNIST as recorded with each run. Iterations, not seconds:",
        "the runs share the machine with other work (`python -m grading.ta.grading_time` measures the time).",
        "",
        f"Thresholds: `{json.dumps(quality.THRESHOLDS)}`",
        "",
    ]
    for kind, title in (("reference", "The reference solution"), ("mutant", "Mutants whose bug ruins the GAN")):
        lines += [f"## {title}", "", "| run | GAN | stops at | metrics there |", "|---|---|---|---|"]
        for run in (r for r in runs if r["kind"] == kind):
            gan, rows = run["gan"], run["rows"]
            at, row = stop(rows, gan, totals[gan])
            ever = any(quality.passes(r, gan)[0] for r in rows)
            shown = ", ".join(f"{key} {row[key]:.3g}" for key in SHOWN) if row else "-"
            if at < totals[gan]:
                where = f"{at:,} (of {totals[gan]:,})"
            else:
                where = f"the end ({'PASS' if row and quality.passes(row, gan)[0] else 'FAIL'})"
            if kind == "mutant":
                where += "; meets the thresholds at some evaluation: " + ("YES" if ever else "never")
            lines.append(f"| {run['name']} seed {run['seed']} | {gan} | {where} | {shown} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--gans", nargs="*", default=list(GANS), choices=GANS)
    parser.add_argument(
        "--mutants", action="store_true", help="the corpus's training-breaking mutants, not the reference"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        torch.set_num_threads(1)
        loader = training_batches(download=False)
        if args.mutants:
            sources = {name: (text, gans) for name, (text, gans) in spoiling_mutants().items()}
        else:
            sources = {"reference": (SOLUTION_GAN.read_text(), list(GANS))}
        for name, (text, gans) in sources.items():
            gan_py = args.cache / "sources" / f"{name}.py"
            gan_py.parent.mkdir(exist_ok=True)
            gan_py.write_text(text)
            for gan in (g for g in gans if g in args.gans):
                for seed in args.seeds:
                    path = args.cache / f"{name}-{gan}-seed{seed}.json"
                    if path.exists():
                        continue
                    rows = trajectory(gan_py, gan, seed, loader)
                    run = {"name": name, "kind": "mutant" if args.mutants else "reference", "gan": gan,
                           "seed": seed, "mnist_root": os.environ.get("MNIST_ROOT"), "rows": rows}  # fmt: skip
                    path.write_text(json.dumps(run))
                    print(f"{name} {gan} seed {seed}: {rows[-1]['seconds']:.0f} s", file=sys.stderr)
    REPORT.write_text(report(args.cache) + "\n")
    print(f"wrote {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
