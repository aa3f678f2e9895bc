"""Time a submission's grading by stage: this design beside the previous one, measured in one run.

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.grading_time                 # the reference, twice at once
    python -m grading.ta.grading_time --mnist-root DIR --copies 2 --example buggy-discriminator_loss --json

The same submissions (`--copies` copies of one example of grading/ta/examples.py, each its own student)
are graded three times, one grading after the other, as `python -m grading.instructor.autograde` grades
(sandboxed, the autograde budget, --threads 1, --precision float32 unless --precision auto, --jobs = copies: on a
2-core machine two at once):

- previous: each GAN trains the whole budget (the design before nndl2.agent.training.UntilPassing), in a
  sandboxed run of its own (the design before the GANs shared one: autograde's --run-per-gan);
- this: each GAN trains until its samples meet the thresholds of Inline Questions 1-3, at most the budget;
- re-grade: this design again on the same output folder, every submission graded again (--regrade, as after
  a change to the grading files): gan.py is unchanged, so its trained GANs are reused
  (grading/instructor/judging/trained.py) and nothing trains;
- alike: this design with --alike on, in a new output folder: the reference solution is trained first (once per
  batch: its time is printed apart), then each GAN whose probe is the reference's goes on with its run
  (trained.Alike). With the reference example every GAN does (a class's best case); with
  --example buggy-<function> the GANs that call the function train.

It prints, for each stage the autograder times (functions: the export of gan.py's functions; training:
the three GANs' runs; judge: Inline Questions 1-3 judged; notebook: nbgrader's run of the notebook;
feedback), the mean seconds per submission of each grading side by side, then each one's wall time per
submission and its ratio to the previous design. The gradings run one after the other, so a machine
shared with other work slows them unevenly: run it on an idle machine and compare ratios between
machines, not seconds. Each grading's scores are printed too: the designs must agree on them.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading.kit import PRECISION_CHOICES, ROOT
from grading.ta.examples import write_examples

STAGES = ("functions", "probe", "training", "judge", "notebook", "feedback")
GRADINGS = ("previous", "this", "re-grade", "alike")
PREPARED = re.compile(r"--alike: the reference solution's runs took ([0-9.]+) s")


def grade(submissions, out, mnist_root, jobs, previous=False, regrade=False, precision="float32", alike=False):
    """Grade `submissions` into `out` with the instructors' command; returns (its results, wall seconds, the
    seconds the reference solution's runs took first: None without --alike)."""
    command = [sys.executable, "-m", "grading.instructor.autograde", str(submissions), "--out", str(out)]
    command += ["--jobs", str(jobs), "--threads", "1", "--device", "cpu", "--precision", precision]
    command += ["--alike", "on" if alike else "off"]
    command += (["--mnist-root", str(mnist_root)] if mnist_root else []) + (["--regrade"] if regrade else [])
    command += ["--whole-budget", "--run-per-gan"] if previous else []
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    names = sorted(path.name for path in Path(submissions).iterdir())
    prepared = PREPARED.search(done.stdout + done.stderr)
    results = [json.loads((Path(out) / "results" / f"{name}.json").read_text()) for name in names]
    return results, seconds, float(prepared.group(1)) if prepared else None


def measure(mnist_root, copies=2, example="reference", work=None, precision="float32"):
    """{grading: {"stages": {stage: mean s}, "seconds": mean s per submission, "wall": batch s / submissions,
    "scores": [...], "reused": [...]}}."""
    work = Path(work or tempfile.mkdtemp(prefix="grading-time-"))
    examples, submissions = work / "examples", work / "submissions"
    made = write_examples(examples, mutants=[example.removeprefix("buggy-")] if example.startswith("buggy-") else ())
    for copy in range(copies):
        shutil.copytree(made[example], submissions / f"{example}-{copy + 1}")
    runs = {
        "previous": grade(submissions, work / "previous", mnist_root, copies, previous=True, precision=precision),
        "this": grade(submissions, work / "this", mnist_root, copies, precision=precision),
        "re-grade": grade(submissions, work / "this", mnist_root, copies, regrade=True, precision=precision),
        "alike": grade(submissions, work / "alike", mnist_root, copies, precision=precision, alike=True),
    }
    report = {}
    for name, (results, wall, prepared) in runs.items():
        report[name] = {
            "prepared": prepared,  # --alike: the reference's runs, trained before the batch (not in "wall")
            "stages": {stage: sum(r["phases"].get(stage, 0.0) for r in results) / len(results) for stage in STAGES},
            "wall": (wall - (prepared or 0.0)) / len(results),  # the batch's wall time per submission (throughput)
            "seconds": sum(r["seconds"] for r in results) / len(results),
            "scores": [r["scores"] for r in results],
            "reused": [r.get("reused_training", []) for r in results],
        }
    return report


def table(report):
    lines = [f"{'stage (mean s per submission)':32}" + "".join(f"{name:>12}" for name in GRADINGS)]
    for stage in STAGES:
        lines.append(f"{stage:32}" + "".join(f"{report[name]['stages'][stage]:12.1f}" for name in GRADINGS))
    lines.append(f"{'one submission, start to row':32}" + "".join(f"{report[n]['seconds']:12.1f}" for n in GRADINGS))
    lines.append(f"{'batch wall time / submissions':32}" + "".join(f"{report[n]['wall']:12.1f}" for n in GRADINGS))
    previous = report["previous"]["seconds"]
    lines.append(f"{'ratio to previous':32}" + "".join(f"{report[n]['seconds'] / previous:12.2f}" for n in GRADINGS))
    prepared = report["alike"]["prepared"] or 0.0
    lines.append(f"alike: the reference solution's runs took {prepared:.1f} s first (once a batch)")
    same = all(report[name]["scores"] == report["previous"]["scores"] for name in GRADINGS)
    lines.append(f"scores: {'the same in all four gradings' if same else 'DIFFERENT: ' + json.dumps(report)}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-root", type=Path, help="MNIST folder (default: $MNIST_ROOT, as autograde does)")
    parser.add_argument("--copies", type=int, default=2, help="submissions graded at once (default 2)")
    parser.add_argument("--example", default="reference", help="reference (default) or buggy-<function>")
    parser.add_argument("--work", type=Path, help="where the gradings go (default: a new temporary folder)")
    parser.add_argument(
        "--precision", choices=PRECISION_CHOICES, default="float32",
        help="the training runs' precision (default float32, autograde's default; auto: bfloat16 autocast where the "
        "CPU is fast at it)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line at the end")
    args = parser.parse_args(argv)
    report = measure(args.mnist_root, args.copies, args.example, args.work, args.precision)
    print(f"precision: {args.precision}")
    print(table(report))
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
