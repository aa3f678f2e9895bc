"""Execute the assignment notebook top to bottom with the reference solution (nbclient).

    python -m grading.ta.run_notebook --budget smoke                 # plumbing check: a few iterations per GAN
    python -m grading.ta.run_notebook --budget full -o run.ipynb     # the full assignment, outputs kept

The source notebook (with its solutions and hidden tests) runs in a temporary copy of the course's
assignment folder with grading/course/solution/gan.py as gan.py. MNIST comes from $MNIST_ROOT, else it is
downloaded into that folder (see nndl2/data.py). Prints each cell's time and every error; exits 1
if a cell fails (under the smoke budget the image-quality checks of Inline Questions 1-3 are
expected to fail and are only reported).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grading.course import build_course
from grading.kit import ASSIGNMENT, SOLUTION_GAN, SOURCE_NOTEBOOK
from nndl2.items import of_kind

QUALITY_CELLS = {item.grade_id for item in of_kind("quality")}  # Inline Questions 1-3's checks


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def cell_problems(cell):
    """Error and stderr outputs of an executed cell, as short strings."""
    problems = []
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            problems.append(f"{output.ename}: {output.evalue}")
        elif output.output_type == "stream" and output.name == "stderr":
            problems.append("stderr: " + output.text.strip()[:500])
    return problems


def run_notebook(budget="smoke", gan_py=SOLUTION_GAN, notebook=SOURCE_NOTEBOOK, timeout=1800, log=print):
    """Execute `notebook` beside `gan_py` under `budget`; returns (executed notebook, seconds per cell)."""
    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_course(tmp, solution_gan=gan_py) / "source" / ASSIGNMENT
        times = execute(nb, folder, {"GAN_KIT_BUDGET": budget}, timeout, log)
    return nb, times


def execute(nb, folder, env, timeout, log):
    """Run every cell of `nb` (in place) in `folder`, with `env` set for the kernel, which inherits this process's
    environment (restored afterwards); returns {cell index: seconds}. Also Part 2's run_faces_notebook."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        client = NotebookClient(
            nb, timeout=timeout, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": folder}}
        )
        times = {}
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                start = time.perf_counter()
                client.execute_cell(cell, index)
                times[index] = time.perf_counter() - start
                if cell.cell_type == "code" and log:
                    log(f"[{times[index]:6.1f} s] cell {index:2d} {grade_id(cell) or ''}")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", choices=["smoke", "autograde", "full"], default="smoke")
    parser.add_argument("-o", "--output", type=Path, help="write the executed notebook here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    nb, _ = run_notebook(args.budget)
    failed = False
    for index, cell in enumerate(nb.cells):
        problems = cell_problems(cell)
        expected = args.budget == "smoke" and grade_id(cell) in QUALITY_CELLS
        for problem in problems:
            print(f"cell {index} {grade_id(cell)}: {'(expected under smoke) ' if expected else ''}{problem}")
        failed |= bool(problems) and not expected
    if args.output:
        nbformat.write(nb, args.output)
        print(f"wrote {args.output}")
    print(
        f"{ASSIGNMENT} ran in {time.perf_counter() - start:.0f} s with the {args.budget} budget: "
        f"{'FAILED' if failed else 'ok'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
