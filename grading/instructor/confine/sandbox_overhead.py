"""What the sandbox adds to a run of student code: the same commands with and without it, side by side.

    python -m grading.instructor.confine.sandbox_overhead [--repeat 3]

Each command runs `--repeat` times plainly (a subprocess of this Python, in the graded folder) and
inside the sandbox (sandbox.py beside this file, default limits); the table prints the median
seconds of each and their difference. A submission's grading runs student code RUNS times in the
sandbox (the function export, the training run of the three GANs, the notebook's kernel), so RUNS times the
difference of `import torch` is what the sandbox costs a submission.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading.instructor.confine import sandbox

RUNS = 3  # sandboxed runs of student code per submission whose GANs all train once (Part 2's faces.py: one more)

COMMANDS = {
    "python -c pass": "pass",
    "import torch": "import torch",
    "import torch, torchvision, nbformat": "import torch, torchvision, nbformat",
}


def timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(repeat=3, log=print):
    """{command: (plain seconds, sandboxed seconds)} as medians of `repeat` runs each, alternated."""
    sandbox.require()
    results = {}
    with tempfile.TemporaryDirectory(prefix="gan-kit-overhead-") as tmp:
        folder = Path(tmp) / "assignment"
        folder.mkdir()
        box = sandbox.Sandbox(folder)
        for name, code in COMMANDS.items():
            plain, boxed = [], []
            for _ in range(repeat):
                plain.append(timed(lambda c=code: subprocess.run([sys.executable, "-c", c], cwd=folder, check=True)))

                def inside(c=code, name=name):
                    outcome = sandbox.run([box.layout.python, "-c", c], box)
                    if not outcome.ok:
                        raise RuntimeError(f"{name} failed in the sandbox: {outcome.reason or outcome.stderr[-500:]}")

                boxed.append(timed(inside))
            results[name] = (statistics.median(plain), statistics.median(boxed))
            if log:
                log(f"{name:40s} plain {results[name][0]:6.2f} s   sandbox {results[name][1]:6.2f} s")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command each way (default 3)")
    args = parser.parse_args(argv)
    results = measure(args.repeat, log=None)
    print(f"{'command':40s} {'plain':>8s} {'sandbox':>8s} {'added':>8s}")
    for name, (plain, boxed) in results.items():
        print(f"{name:40s} {plain:7.2f}s {boxed:7.2f}s {boxed - plain:+7.2f}s")
    added = results["import torch"][1] - results["import torch"][0]
    print(f"per submission ({RUNS} sandboxed runs of student code): about {RUNS * added:+.1f} s")


if __name__ == "__main__":
    main()
