"""Where the grader's training runs stop: image quality along whole training runs, at UntilPassing's checkpoints.

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.trajectories --seeds 0 1 2        # the reference, three seeds
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.trajectories --mutants --seeds 0    # the training-breaking mutants
    python -m grading.ta.trajectories --report-only                                   # the report again, from DATA

Two processes, each on half the seeds (each adds its own runs to DATA when it ends):

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.trajectories --mutants --seeds $(seq 0 2 18) &
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.trajectories --mutants --seeds $(seq 1 2 19)

The grader's training run of each GAN stops as soon as the generator's samples meet the thresholds of
Inline Questions 1-3 with room to spare at one of nndl2.agent.training.UntilPassing's checkpoints. This
command trains whole runs (the autograde budget, float32, one thread, seed as the grader's SEED + seed)
and evaluates the generator at each checkpoint and at the end as the grader does (quality.sample_images,
1,000 samples, quality.evaluate); evaluating changes nothing in a run, so one whole run shows where
every shorter one would end. Each run is kept as JSON in --cache, named by what it was made from (the
gan.py text, the training code, the MNIST folder, the checkpoints, PyTorch, the CPU: source_tag), so a run kept
is not trained again and one of other training code is never used (the data loading's and the metrics' code,
nndl2/data.py and quality.py, are not in the key: empty --cache after changing them). The runs this command
asked for then replace those of the same kind, file, GAN and seed in DATA (grading/ta/trajectories.json; the
others stay, so a machine without the cache loses nothing), and REPORT is written from DATA:

- for each corpus mutant whose bug ruins a GAN (tests/corpus/index.py, `spoils`) or degrades it (`watch`), over
  its seeds: how many seeds meet the thresholds at some evaluation (for a ruined GAN none may: its Inline Question
  would pass) and the 95% upper confidence bound on that share from the count alone (Clopper-Pearson); how near
  it comes: the most bounds one evaluation of any seed meets and the bounds that evaluation misses, and for each
  bound how many seeds meet it at some evaluation. Counts, not a model: the metrics of a ruined GAN pile up at
  their floors (0% recognizable on most seeds), where no normal model of their spread means anything;
- for the reference, the iteration each GAN stops at;
- every run's stop and metrics there.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from grading.kit import GRADING, SOLUTION_GAN, import_file, write_atomically
from grading.ta.make_outputs import TRAINED_BY, solution_checksum
from grading.ta.seed_distributions import mnist_root
from nndl2 import quality
from nndl2.agent.training import GANS, UntilPassing, build_gan, training_batches
from nndl2.budget import BUDGETS, SEED, iterations
from nndl2.training import run_a_gan

REPORT = GRADING / "ta" / "trajectories.md"
DATA = GRADING / "ta" / "trajectories.json"  # every run's metrics at its evaluations: what REPORT is written from
DEFAULT_CACHE = Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit")) / "trajectories"
SHOWN = ("recognizable", "coverage", "class_distance", "inception_score", "fid")
COLUMNS = ("iteration", *SHOWN)  # a row of DATA: the metrics of one evaluation
CONFIDENCE = 0.95  # of the upper bound on a mutant's passing share


def checkpoints(gan, budget="autograde"):
    """UntilPassing's checkpoints of `gan` under `budget`, and the budget's end: (sorted iterations, total)."""
    total = iterations(gan, budget)
    return sorted(UntilPassing(None, None, gan, total).checkpoints), total


def trajectory(gan_py, gan, seed, loader, budget="autograde", at=None):
    """Train `gan` with the gan.py at `gan_py` (seed SEED + seed, float32) for the whole budget; its metrics at
    each of UntilPassing's checkpoints and at the end (`at`: at these iterations instead, training to the last)."""
    training = dict(BUDGETS[budget][gan])
    if at is None:
        at, total = checkpoints(gan, budget)
        at = set(at) | {total}
    else:
        at = set(at)
        training["max_iters"] = max(at)
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
              sample_noise=module.sample_noise, **training)  # fmt: skip
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


def mutant_claims(mutant):
    """{gan: claim} of a corpus mutant (a row of tests/corpus/index.py MUTANTS): "ruins" for each GAN its bug ruins
    (`spoils`: no seed may meet the thresholds), "open" for each it degrades without ruining (`watch`: whether it
    passes is the GAN's luck; recorded to show how often it does)."""
    gans = {f"test_inline_q{number}": gan for number, gan in enumerate(GANS, 1)}
    return {gans[q]: "ruins" for q in mutant["spoils"]} | {gans[q]: "open" for q in mutant.get("watch", ())}


def corpus_mutants():
    """{name: (gan.py text, {gan: claim})} of the corpus mutants recorded here: those with a claim (mutant_claims)."""
    from tests.corpus import mutant_gan
    from tests.corpus.index import MUTANTS

    return {f"{m['style']}-{m['function']}": (mutant_gan(m["style"], m["function"]), mutant_claims(m))
            for m in MUTANTS if mutant_claims(m)}  # fmt: skip


def run_key(run):
    return (run["kind"], run["name"], run["gan"], run["seed"])


def merged(data, runs):
    """DATA ({"columns", "runs"}) with `runs` (cached runs, their rows dicts) in place of its runs of the same kind,
    file, GAN and seed; sorted. DATA's rows are lists in COLUMNS' order, the metrics to 6 significant digits."""
    by_key = {run_key(run): run for run in data.get("runs", [])}
    for run in runs:
        rows = [[row["iteration"], *(float(f"{row[key]:.6g}") for key in SHOWN)] for row in run["rows"]]
        by_key[run_key(run)] = {key: run[key] for key in ("kind", "name", "gan", "seed", "mnist_root")} | {"rows": rows}
    return {"columns": list(COLUMNS), "runs": [by_key[key] for key in sorted(by_key)]}


def rows_of(run):
    return [dict(zip(COLUMNS, row, strict=True)) for row in run["rows"]]


def mutant_summary(runs, gan):
    """Over the seeds of one mutant's `gan` (DATA's runs): {"seeds", "passing": seeds meeting every threshold at some
    evaluation, "upper": the CONFIDENCE upper bound on that share (Clopper-Pearson), "most": the most bounds one
    evaluation meets, "misses": the bounds the first such evaluation misses, "met": {bound: seeds meeting it at some
    evaluation}}."""
    from scipy.stats import beta

    missed = [[list(quality.missed(row, gan)) for row in rows_of(run)] for run in runs]  # per seed, per evaluation
    bounds = list(quality.THRESHOLDS[gan])
    passing = sum(any(not misses for misses in seed) for seed in missed)
    upper = 1.0 if passing == len(missed) else float(beta.ppf(CONFIDENCE, passing + 1, len(missed) - passing))
    misses = min((misses for seed in missed for misses in seed), key=len)  # the first of the fewest
    met = {bound: sum(any(bound not in misses for misses in seed) for seed in missed) for bound in bounds}
    return {"seeds": len(missed), "passing": passing, "upper": upper, "most": len(bounds) - len(misses),
            "misses": misses, "met": met}  # fmt: skip


def report(data):
    """The markdown report of DATA's runs."""
    runs = data["runs"]
    schedule = {gan: checkpoints(gan) for gan in GANS}
    totals = {gan: total for gan, (_, total) in schedule.items()}
    lines = [
        "# Where the grader's training runs stop",
        "",
        "Generated by `python -m grading.ta.trajectories` from `trajectories.json` (do not edit by hand). Each GAN",
        "trains until its samples meet the thresholds (nndl2/quality.py THRESHOLDS) with room to spare "
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
    mutants = {}
    for run in (r for r in runs if r["kind"] == "mutant"):
        mutants.setdefault((run["name"], run["gan"]), []).append(run)
    if mutants:
        lines += [
            "## Mutants over seeds: those whose bug ruins the GAN, and those the corpus watches",
            "",
            "Meeting the thresholds at some evaluation: at any checkpoint or at the end, without the room the grader's",
            "early stop asks for (more than the grader would pass). Upper bound: of the share of seeds meeting them,",
            f"{100 * CONFIDENCE:g}% confidence, from the count alone (Clopper-Pearson). Nearest: the most bounds one "
            "evaluation",
            "of any seed meets, and the bounds that evaluation misses. Seeds meeting each bound: at some evaluation.",
            "",
            "| mutant | GAN | the corpus says | seeds | meet the thresholds at some evaluation | upper bound "
            "| nearest: bounds met (it misses) | seeds meeting each bound at some evaluation |",
            "|---|---|---|---|---|---|---|---|",
        ]
        claims = {(name, gan): claim for name, (_, made) in corpus_mutants().items() for gan, claim in made.items()}
        said = {"ruins": "ruins it (`spoils`)", "open": "open (`watch`)"}
        for (name, gan), group in sorted(mutants.items(), key=lambda item: (GANS.index(item[0][1]), item[0][0])):
            m = mutant_summary(group, gan)
            met = ", ".join(f"{bound} {count}" for bound, count in m["met"].items())
            claim = said.get(claims.get((name, gan)), "not in the corpus")
            lines.append(
                f"| {name} | {gan} | {claim} | {m['seeds']} | {m['passing']} | {100 * m['upper']:.3g}% "
                f"| {m['most']} of {len(m['met'])} ({', '.join(m['misses']) or 'none'}) | {met} |"
            )
        lines.append("")
    for kind, title in (("reference", "The reference solution"), ("mutant", "Every run of the mutants")):
        lines += [f"## {title}", "", "| run | GAN | stops at | metrics there |", "|---|---|---|---|"]
        for run in sorted(
            (r for r in runs if r["kind"] == kind), key=lambda r: (GANS.index(r["gan"]), r["name"], r["seed"])
        ):
            gan, rows = run["gan"], rows_of(run)
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


def source_tag(text):
    """What a run is made from, hashed: the gan.py text, the code that trains it (TRAINED_BY, its comments and
    docstrings left out), the MNIST folder, the checkpoints, PyTorch and the CPU (a cached run of other ones is never
    used)."""
    made_of = json.dumps([text, solution_checksum(TRAINED_BY), mnist_root(), {gan: checkpoints(gan) for gan in GANS},
                          torch.__version__, torch.backends.cpu.get_cpu_capability()])  # fmt: skip
    return hashlib.sha256(made_of.encode()).hexdigest()[:12]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--gans", nargs="*", default=list(GANS), choices=GANS)
    parser.add_argument(
        "--mutants", action="store_true", help="the corpus's training-breaking mutants, not the reference"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--report-only", action="store_true", help=f"write {REPORT.name} again from {DATA.name} alone")
    args = parser.parse_args(argv)
    if args.report_only:
        write_atomically(REPORT, lambda partial: partial.write_text(report(json.loads(DATA.read_text())) + "\n"))
        print(f"wrote {REPORT}")
        return 0
    torch.set_num_threads(1)
    loader = None  # loaded once, and only if something trains
    if args.mutants:
        sources = {name: (text, list(claims)) for name, (text, claims) in corpus_mutants().items()}
    else:
        sources = {"reference": (SOLUTION_GAN.read_text(), list(GANS))}
    runs = []
    for name, (text, gans) in sources.items():
        tag = source_tag(text)
        gan_py = args.cache / "sources" / f"{name}-{tag}.py"
        if not gan_py.exists():  # another process may be importing it: written whole or not at all
            write_atomically(gan_py, lambda partial, text=text: partial.write_text(text))
        for gan in (g for g in gans if g in args.gans):
            for seed in args.seeds:
                path = args.cache / f"{name}-{tag}-{gan}-seed{seed}.json"
                if not path.exists():
                    loader = loader or training_batches(download=False)
                    rows = trajectory(gan_py, gan, seed, loader)
                    run = {"name": name, "kind": "mutant" if args.mutants else "reference", "gan": gan,
                           "seed": seed, "mnist_root": mnist_root(), "rows": rows}  # fmt: skip
                    write_atomically(path, lambda partial, run=run: partial.write_text(json.dumps(run)))
                    print(f"{name} {gan} seed {seed}: {rows[-1]['seconds']:.0f} s", file=sys.stderr)
                runs.append(json.loads(path.read_text()))
    # Read, merged and both texts made just before writing: another process's runs, added meanwhile, stay.
    data = merged(json.loads(DATA.read_text()) if DATA.is_file() else {}, runs)
    text, markdown = dump(data), report(data) + "\n"
    write_atomically(DATA, lambda partial: partial.write_text(text))
    write_atomically(REPORT, lambda partial: partial.write_text(markdown))
    print(f"wrote {DATA} and {REPORT}")
    return 0


def dump(data):
    """DATA's text: one run a line (a diff shows which runs changed)."""
    runs = ",\n".join(f"  {json.dumps(run)}" for run in data["runs"])
    return f'{{"columns": {json.dumps(data["columns"])},\n"runs": [\n{runs}\n]}}\n'


if __name__ == "__main__":
    sys.exit(main())
