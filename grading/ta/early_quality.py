"""How good the reference's GANs are before the grader's first checkpoint: the evidence on a smaller budget.

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.early_quality --seeds 10 --jobs 2

Issue 20 asks whether a smaller autograde budget, recalibrated, could grade a submission faster. This command
trains the reference solution (float32, one thread, seed SEED + seed, as the grader's run: scoring it on the way
draws nothing from its random numbers) to the iterations in AT, below UntilPassing's checkpoints of the autograde
budget, evaluates its generator there as the grader does
(quality.sample_images, 1,000 samples, quality.evaluate), and prints each metric's mean, standard deviation and
range over the seeds, the training seconds to get there, and beside them the best value any evaluation of a
ruined corpus mutant reaches (grading/ta/trajectories.json, `ruins`): where the reference's spread still
reaches the ruined mutants' values, a budget that stops there cannot tell a working GAN from a broken one.
Nothing is written: the output is the table (README, grading/ta/measurements.md quote it).
"""

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from grading.kit import SOLUTION_GAN
from grading.ta.trajectories import DATA, SHOWN, corpus_mutants, rows_of, trajectory
from nndl2.agent.training import GANS

AT = {  # the autograde budget's checkpoints start at 600, 600 and 150 iterations
    "vanilla": (200, 300, 400, 500, 600),
    "lsgan": (200, 300, 400, 500, 600),
    "dcgan": (30, 60, 90, 120, 150),
}
BETTER = {"recognizable": max, "coverage": max, "class_distance": min, "inception_score": max, "fid": min}

_loader = None


def _start():
    global _loader
    import torch

    from nndl2.agent.training import training_batches

    torch.set_num_threads(1)
    _loader = training_batches(download=False)


def _run(gan, seed):
    with contextlib.redirect_stdout(io.StringIO()):  # the training's progress bar and loss lines: not the table
        return gan, seed, trajectory(SOLUTION_GAN, gan, seed, _loader, at=AT[gan])


def ruined_best():
    """{gan: (runs, {metric: the best value of any evaluation of a mutant that ruins it})} from DATA."""
    ruins = {name: [gan for gan, claim in claims.items() if claim == "ruins"] for name, (_, claims) in
             corpus_mutants().items()}  # fmt: skip
    best = {}
    for run in json.loads(DATA.read_text())["runs"]:
        if run["kind"] == "mutant" and run["gan"] in ruins.get(run["name"], ()):
            runs, values = best.get(run["gan"], (0, {}))
            for row in rows_of(run):
                for metric in SHOWN:
                    values[metric] = BETTER[metric](values.get(metric, row[metric]), row[metric])
            best[run["gan"]] = (runs + 1, values)
    return best


def cell(values):
    mean, sd = statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3g} ± {sd:.2g} [{min(values):.3g}, {max(values):.3g}]"


def report(runs, best):
    lines = [
        "| GAN | iteration | seconds | " + " | ".join(SHOWN) + " |",
        "|---|---|---|" + "---|" * len(SHOWN),
    ]
    for gan in (gan for gan in GANS if any(g == gan for g, _ in runs)):  # the GANs trained (--gans)
        rows = [row for (g, _), trained in sorted(runs.items()) if g == gan for row in trained]
        for iteration in AT[gan]:
            at = [row for row in rows if row["iteration"] == iteration]
            seconds = statistics.mean(row["seconds"] for row in at)
            cells = " | ".join(cell([row[metric] for row in at]) for metric in SHOWN)
            lines.append(f"| {gan} | {iteration} | {seconds:.1f} | {cells} |")
        if gan in best:
            count, values = best[gan]
            cells = " | ".join(f"{values[metric]:.3g}" for metric in SHOWN)
            lines.append(f"| {gan}: ruined mutants, best of any evaluation ({count} runs) | | | {cells} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 to SEEDS-1 (default 10, at least 2)")
    parser.add_argument("--gans", nargs="+", choices=GANS, default=list(GANS))
    parser.add_argument("--jobs", type=int, default=2, help="training processes at once, one thread each (default 2)")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds: at least 2 (a standard deviation needs two)")
    start, runs = time.perf_counter(), {}
    tasks = [(gan, seed) for seed in range(args.seeds) for gan in args.gans]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"), initializer=_start) as pool:
        for gan, seed, rows in pool.map(_run, *zip(*tasks, strict=True)):
            runs[gan, seed] = rows
            print(f"{gan} seed {seed}: {rows[-1]['seconds']:.0f} s", file=sys.stderr)
    print(f"The reference, float32, one thread, seeds 0-{args.seeds - 1}: mean ± sd [min, max] over seeds; seconds:")
    print(f"training to that iteration (mean). {time.perf_counter() - start:.0f} s in all, {args.jobs} at once.\n")
    print(report(runs, ruined_best()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
