"""Each graded metric's distribution over training seeds, for the reference and for other correct gan.py files
(the corpus's styles): how far every threshold of Inline Questions 1-3 lies from what correct solutions written
in each style reach, in standard deviations over seeds, in float32 (the grader's default, and Colab's T4) or, with
--precision bfloat16, under bfloat16 autocast (what the grader does with --precision auto where the CPU or GPU is
fast at it): REPORT_BF16_MD.

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.seed_distributions tests/corpus/styles/*.py.txt --seeds 20
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.seed_distributions tests/corpus/styles/*.py.txt --precision bfloat16
    python -m grading.ta.seed_distributions tests/corpus/styles/*.py.txt --seeds 20 --report-only
    python -m grading.ta.seed_distributions --render

First, for each file and GAN, a fingerprint: the GAN trained a few iterations at two seeds (FINGERPRINT), G's
weights hashed. Files whose GAN trains bit for bit alike that far (the reference's included) are assumed to
train alike to the end and share one distribution: only distinct trainings are trained, for the whole
autograde budget, once per seed, as the grader's training run does it (nndl2.agent.training.train_gan, float32,
one thread, torch.manual_seed(seed) before building the nets); their final samples (quality.sample_images:
1,000 samples, noise seed 0) are evaluated. Fingerprints and samples are cached (--cache, outside the repo), keyed
by what made them (the file or fingerprint, the training code, the data, PyTorch and the CPU's kind: made_by; a run
of other ones is never used; the data loading's code, nndl2/data.py, is not in the key: empty the cache after
changing it), so the command is resumable and can run as several processes, each on its own
seeds (--first, --every; the last one to finish reports every seed).

It writes the measurements (REPORT_JSON; measurements recorded there and not cached are kept; where writing would
drop recorded ones, of another budget or of trainings this run does not reproduce, it stops before training:
refuse_to_drop) and REPORT_MD:
per GAN and distinct training, how many seeds pass every bound, the smallest margin, the share of seeds a normal
model puts on the failing side of some bound (estimated_failing), and whether the margin makes 99.9% of seeds
passing a safe claim (the one-sided normal tolerance factor at 95% confidence: 4.32 sd for
20 seeds); then each bound's mean, standard deviation, worst seed, limit (nndl2/quality.py THRESHOLDS) and
margin. --render writes REPORT_MD again from REPORT_JSON (after a change of THRESHOLDS). --budget measures
another budget (one that would replace the grader's must first show these margins).
"""

import argparse
import functools
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from grading.kit import GRADING, import_file, load_solution, write_atomically
from grading.ta import reference_gans
from grading.ta.calibrate import METRICS
from grading.ta.make_outputs import TRAINED_BY, solution_checksum
from nndl2 import quality
from nndl2.agent.training import GANS, train_gan, training_batches
from nndl2.budget import BUDGETS

REPORT_MD = GRADING / "ta" / "seed_distributions.md"
REPORT_JSON = GRADING / "ta" / "seed_distributions.json"
REPORT_BF16_MD = GRADING / "ta" / "seed_distributions_bfloat16.md"  # --precision bfloat16 (its data: .json beside)
DEFAULT_CACHE = Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit")) / "seed-distributions"
FINGERPRINT = {"iterations": {"vanilla": 30, "lsgan": 30, "dcgan": 10}, "seeds": (0, 1)}
BUDGET = "autograde"  # the grader's (another, e.g. a smaller one to calibrate: --budget)
P_PASS, CONFIDENCE = 0.999, 0.95  # the share of seeds that must pass, and how sure the margin must make us of it


def mnist_root():
    """The MNIST folder training reads (MNIST_ROOT, else nndl2/), resolved: part of every cache key."""
    return str(Path(os.environ.get("MNIST_ROOT") or Path(quality.__file__).parent).resolve())


def loader():
    """The notebook's training batches from MNIST_ROOT's MNIST (nothing downloaded)."""
    return training_batches(download=False)


def fingerprint(module, gan, batches, bfloat16=False):
    """sha256 (16 hex digits) of G's weights after FINGERPRINT's iterations at each of its seeds: of each
    tensor's shape and values, in sorted order (a module that declares its layers in another order but holds
    the same weights trains alike)."""
    digest = hashlib.sha256()
    for seed in FINGERPRINT["seeds"]:
        training = {"num_epochs": 1, "max_iters": FINGERPRINT["iterations"][gan]}
        _, G, _, _ = train_gan(gan, module, batches, training, seed, show_every=10**9, bfloat16=bfloat16)
        tensors = [p.detach().contiguous().numpy() for p in G.parameters()]
        for part in sorted(hashlib.sha256(f"{t.shape}".encode() + t.tobytes()).digest() for t in tensors):
            digest.update(part)
    return digest.hexdigest()[:16]


def made_by():
    """What else a training run is made of, hashed (part of every cache key): the code that trains every gan.py
    (make_outputs.TRAINED_BY, comments and docstrings left out), PyTorch and the CPU's kind."""
    made_of = [solution_checksum(TRAINED_BY), torch.__version__, torch.backends.cpu.get_cpu_capability()]
    return hashlib.sha256(json.dumps(made_of).encode()).hexdigest()[:12]


def sample_path(cache, gan, budget, key, seed, precision="float32"):
    tag = "" if precision == "float32" else f"-{precision}"
    return Path(cache) / f"{gan}-{budget}{tag}-{key}-{made_by()}-seed{seed}.npy"


def train_samples(path, name, module, gan, budget, seed, batches, bfloat16=False):
    """Train `gan` with `module` at `seed` for the whole `budget`; cache its final samples (1000, 784) at `path`."""
    start = time.time()
    _, G, _, _ = train_gan(gan, module, batches, BUDGETS[budget][gan], seed, show_every=10**9, bfloat16=bfloat16)
    images = quality.sample_images(G, n=1000)
    write_atomically(path, lambda partial: np.save(partial, images))
    print(f"{gan} {name} seed {seed}: {time.time() - start:.0f} s", flush=True)


def quantile():
    """How many sds above the limit the mean must lie for P_PASS of seeds to pass, were the mean and sd known."""
    from scipy.stats import norm  # scipy comes with mlxtend, in the kit's environment

    return float(norm.ppf(P_PASS))


def tolerance_factor(n):
    """How many sds above the limit the mean of n seeds must lie for CONFIDENCE that P_PASS of all seeds pass
    (the one-sided normal tolerance factor; 4.32 for 20 seeds, against the 3.09 of a known mean and sd)."""
    from scipy.stats import nct

    return float(nct.ppf(CONFIDENCE, df=n - 1, nc=quantile() * math.sqrt(n)) / math.sqrt(n))


def margin_row(values, bound, limit):
    """(mean, sd, worst, margin): the margin is the distance from the mean to `limit` in standard deviations,
    positive on the passing side (every seed alike: infinite on the passing side, 0 at the limit)."""
    values = np.asarray(values, dtype=float)
    higher = bound.startswith("min")
    mean, sd = values.mean(), values.std(ddof=1)
    worst = values.min() if higher else values.max()
    distance = (mean - limit) if higher else (limit - mean)
    margin = distance / sd if sd > 0 else 0.0 if distance == 0 else math.copysign(math.inf, distance)
    return mean, sd, worst, margin


def estimated_failing(margins):
    """The share of seeds failing some bound, estimated from each bound's margin (in sds) under a normal model with
    the measured mean and sd: the sum over bounds of the normal tail beyond each (an upper bound on the share
    failing any of them, whatever their correlation). An estimate, not a confidence bound: 20 seeds leave the
    sds themselves uncertain (the tolerance factor is for that)."""
    from scipy.stats import norm

    return float(sum(norm.sf(margin) for margin in margins))


def report(data):
    """The markdown report of `data` (main's JSON): {"budget", "iterations": {gan: n}, "seeds", "mnist_root",
    "groups": {gan: {fingerprint: [file names]}}, "metrics": {gan: {fingerprint: {seed: {metric: value}}}}}."""
    seeds, groups = data["seeds"], data["groups"]
    k = tolerance_factor(seeds)
    iterations = ", ".join(f"{gan} {n}" for gan, n in data["iterations"].items())
    precision = data.get("precision", "float32")
    option = "" if precision == "float32" else f" --precision {precision}"
    source = data.get("data_file", REPORT_JSON.name)
    how = "float32" if precision == "float32" else "under bfloat16 autocast"
    if precision == "float32":
        other = ("The grader trains in float32 unless told --precision",
                 f"  auto; then, where it trains in bfloat16, {REPORT_BF16_MD.name} applies.")  # fmt: skip
    else:
        other = ("The grader trains so only with --precision auto, on",
                 f"  GPUs and CPUs with fast bfloat16; in float32 (its default) {REPORT_MD.name} applies.")  # fmt: skip
    out = [
        "# Inline Questions 1-3: each metric's distribution over training seeds, per style",
        "",
        f"Generated by `python -m grading.ta.seed_distributions{option}` from `{source}` and the thresholds",
        "in force (do not edit by hand; how it is made is in that file's docstring).",
        "",
        f"- Training: the `{data['budget']}` budget ({iterations} iterations), all of it (the grader stops earlier",
        f"  only once the thresholds are met with room: a seed that passes here passes there), {how}, one thread,",
        f"  seeds 0-{seeds - 1}, MNIST from {data['mnist_root']}. {other[0]}",
        other[1],
        "- Files whose GAN trains bit for bit like another's for a few iterations (the fingerprint) share a row: an",
        "  assumption for the rest of the budget, not a proof.",
        "- Margin: (mean - bound) / sd, positive on the passing side. Were the mean and sd known, a margin of",
        f"  {quantile():.2f} sd would put {P_PASS:.1%} of seeds on the passing side; those of {seeds} seeds are",
        f"  estimates, so a row says yes only from {k:.2f} sd (the one-sided normal tolerance factor,",
        f"  {CONFIDENCE:.0%} confidence) with every seed passing; not shown between the two; no below.",
        "- Failing, estimated: the share of seeds failing some bound were each metric normal with the measured mean",
        "  and sd (the sum over bounds of each one's tail beyond its limit): a point estimate, not a bound.",
        "",
        f"| GAN | files that train alike | seeds | pass every bound | smallest margin (sd) | failing, estimated "
        f"| {P_PASS:.1%} |",
        "|---|---|---|---|---|---|---|",
    ]
    details = []
    for gan in GANS:
        details += ["", f"## {gan}", ""]
        for key, names in groups[gan].items():
            runs = data["metrics"].get(gan, {}).get(key, {})
            details += [f"**{', '.join(names)}** (fingerprint {key}; {len(runs)} of {seeds} seeds trained)", ""]
            if len(runs) < 2:
                out.append(f"| {gan} | {', '.join(names)} | {len(runs)} | - | - | - | not measured |")
                details += ["(too few seeds trained for a distribution)", ""]
                continue
            passed = sum(quality.passes(m, gan)[0] for m in runs.values())
            rows = {bound: margin_row([m[bound.split("_", 1)[1]] for m in runs.values()], bound, limit)
                    for bound, limit in quality.THRESHOLDS[gan].items()}  # fmt: skip
            which = min(rows, key=lambda bound: rows[bound][3])
            smallest = rows[which][3]
            enough = passed == len(runs) and smallest >= tolerance_factor(len(runs))
            verdict = "yes" if enough else "no" if passed < len(runs) or smallest < quantile() else "not shown"
            failing = estimated_failing(row[3] for row in rows.values())
            out.append(
                f"| {gan} | {', '.join(names)} | {len(runs)} | {passed} | {smallest:.1f} ({which}) | {failing:.3%} "
                f"| {verdict} |"
            )
            details += ["| bound | limit | mean | sd | worst seed | margin (sd) |", "|---|---|---|---|---|---|"]
            for bound, (mean, sd, worst, margin) in rows.items():
                limit = quality.THRESHOLDS[gan][bound]
                details.append(f"| {bound} | {limit:g} | {mean:.3f} | {sd:.3f} | {worst:.3f} | {margin:.1f} |")
            details += ["", f"{passed} of {len(runs)} seeds pass every bound.", ""]
    return "\n".join(out + details).rstrip("\n") + "\n"


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m grading.ta.seed_distributions", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("files", nargs="*", type=Path, help="other correct gan.py files (e.g. tests/corpus/styles/*)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0 to SEEDS-1 (default 20, at least 2)")
    parser.add_argument("--first", type=int, default=0, help="train seeds from FIRST on only (one process's share)")
    parser.add_argument("--every", type=int, default=1, help="train every EVERY-th seed only (several processes)")
    parser.add_argument("--gans", nargs="+", choices=GANS, default=list(GANS), help="train these GANs (default all)")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default=BUDGET, help=f"training budget (default {BUDGET})")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"samples cache (default {DEFAULT_CACHE})")
    parser.add_argument(
        "--precision", choices=["float32", "bfloat16"], default="float32",
        help="train in float32 (default, as the grader) or under bfloat16 autocast (the grader's --precision auto)",
    )  # fmt: skip
    parser.add_argument("--report", type=Path, help="the report (its data: the same name, .json; default "
                        f"{REPORT_MD.name}, with --precision bfloat16 {REPORT_BF16_MD.name})")  # fmt: skip
    parser.add_argument("--report-only", action="store_true", help="train nothing: report what is cached or recorded")
    parser.add_argument("--render", action="store_true", help="only write the report again from its .json")
    args = parser.parse_args(argv)
    args.bfloat16 = args.precision == "bfloat16"
    args.report = args.report or (REPORT_BF16_MD if args.bfloat16 else REPORT_MD)
    args.data = args.report.with_suffix(".json")
    if args.render:
        if args.files or not args.data.is_file():
            parser.error(f"--render writes {args.report} from {args.data} alone: give no files; the .json must exist")
        return args
    if args.seeds < 2 or args.every < 1 or not 0 <= args.first < args.seeds:
        parser.error("need --seeds of at least 2, --every of at least 1 and --first between 0 and SEEDS-1")
    args.names = {}
    for path in args.files:
        name = path.name.removesuffix(".txt").removesuffix(".py")
        if not path.is_file():
            parser.error(f"{path}: no such file")
        if name == "reference" or name in args.names:
            parser.error(f"{path}: its name {name!r} is taken ({args.names.get(name, 'the reference solution')})")
        args.names[name] = path
    return args


def fingerprints(args, modules, batches):
    """{gan: {fingerprint: [names]}}, fingerprints kept in the cache (keyed by source, settings, data and made_by)."""
    prints, groups = args.cache / "fingerprints.json", {gan: {} for gan in GANS}
    known = json.loads(prints.read_text()) if prints.exists() else {}
    for name, module in modules.items():
        source = hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()
        for gan in GANS:
            tag = f"{gan}:{source}:{json.dumps(FINGERPRINT, sort_keys=True)}:sorted:{mnist_root()}:{made_by()}"
            tag += "" if args.precision == "float32" else f":{args.precision}"
            if tag not in known:
                if args.report_only:
                    raise SystemExit(f"{name}: no fingerprint of its {gan} GAN yet (run without --report-only)")
                known[tag] = fingerprint(module, gan, batches(), bfloat16=args.bfloat16)
                known.update(json.loads(prints.read_text()) if prints.exists() else {})  # another process's
                write_atomically(prints, lambda partial: partial.write_text(json.dumps(known, indent=1)))
            groups[gan].setdefault(known[tag], []).append(name)
    return groups


def refuse_to_drop(args, recorded, groups, same):
    """Stop before anything trains where writing args.data would drop measurements recorded there: all of them when
    they are of another budget, MNIST folder or precision (`same` False); else those of trainings this run's
    fingerprints do not reproduce (a file not given this time, a file changed since, or a CPU of another kind, whose
    kernels sum in another order: the DCGAN's fingerprints differ between some CPUs)."""
    remedy = (f"Writing it would drop them: write another report (--report OTHER.md; copy {args.data.name} to "
              "OTHER.json first to keep its measurements), or remove it to measure every seed afresh.")  # fmt: skip
    if not same and any(seeds for groups_of in recorded.get("metrics", {}).values() for seeds in groups_of.values()):
        theirs = f"{recorded.get('budget')}, {recorded.get('mnist_root')}, {recorded.get('precision', 'float32')}"
        raise SystemExit(
            f"{args.data} holds measurements of another budget, MNIST folder or precision ({theirs}; this run: "
            f"{args.budget}, {mnist_root()}, {args.precision}). {remedy}"
        )
    lost = []
    for gan in GANS:
        for key, seeds in recorded.get("metrics", {}).get(gan, {}).items():
            if seeds and key not in groups[gan]:
                names = recorded.get("groups", {}).get(gan, {}).get(key, [])
                absent = [name for name in names if name != "reference" and name not in args.names]
                why = f"not given here: {', '.join(absent)}" if absent else "they train otherwise here"
                lost.append(f"{gan} {key} of {', '.join(names) or '?'} ({why})")
    if lost:
        raise SystemExit(
            f"{args.data} holds measurements of trainings this run does not reproduce: {'; '.join(lost)}. A file not "
            f"given, a file changed since, or a CPU that trains them otherwise. {remedy}"
        )


def main(argv=None):
    args = parse(argv)
    if args.render:
        args.report.write_text(report(json.loads(args.data.read_text())))
        return 0
    torch.set_num_threads(1)
    modules = {"reference": load_solution()}
    modules.update({name: import_file(path, f"style_{name}") for name, path in args.names.items()})
    batches = functools.cache(loader)  # loaded once, and only if something trains
    groups = fingerprints(args, modules, batches)
    # What was recorded before (the same budget and data) stays, unless the cache has it: a machine without
    # the cache can write the report again without losing the measurements.
    recorded = json.loads(args.data.read_text()) if args.data.is_file() else {}
    same = recorded.get("budget") == args.budget and recorded.get("mnist_root") == mnist_root()
    same = same and recorded.get("precision", "float32") == args.precision
    if recorded:
        refuse_to_drop(args, recorded, groups, same)
    seeds = range(args.first, args.seeds, args.every) if not args.report_only else []
    for seed in seeds:  # this process's seeds first: then the report holds what other processes finished meanwhile
        for gan in args.gans:
            for key, names in groups[gan].items():
                path = sample_path(args.cache, gan, args.budget, key, seed, args.precision)
                if not path.exists():
                    train_samples(path, names[0], modules[names[0]], gan, args.budget, seed, batches(), args.bfloat16)
    metrics = {gan: {key: dict(recorded["metrics"].get(gan, {}).get(key, {})) if same else {} for key in groups[gan]}
               for gan in GANS}  # fmt: skip
    for gan in GANS:
        for key in groups[gan]:
            for seed in range(args.seeds):
                path = sample_path(args.cache, gan, args.budget, key, seed, args.precision)
                if path.exists():
                    found = quality.evaluate(np.load(path))
                    metrics[gan][key][str(seed)] = {name: found[name] for name in METRICS}
    iterations = {gan: reference_gans.iterations(gan, args.budget) for gan in GANS}
    data = {"budget": args.budget, "iterations": iterations, "seeds": args.seeds, "mnist_root": mnist_root(),
            "groups": groups, "metrics": metrics}  # fmt: skip
    if args.precision != "float32":  # float32: the data as it was before this key
        data = {"precision": args.precision, "data_file": args.data.name, **data}
    args.data.write_text(json.dumps(data, indent=1) + "\n")
    args.report.write_text(report(data))
    print(f"wrote {args.report} and {args.data.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
