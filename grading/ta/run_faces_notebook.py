"""Execute Part 2's notebook (Faces-PyTorch) top to bottom with the reference faces.py (nbclient).

    python -m grading.ta.run_faces_notebook --faces-root DIR --budget smoke       # plumbing: a few iterations
    python -m grading.ta.run_faces_notebook --faces-root DIR --budget full -o run.ipynb

DIR is a folder of face images in ImageFolder layout (DIR/<folder>/<image>.jpg); without one,
`python -m grading.ta.synthetic_faces DIR` makes synthetic faces. The source notebook runs in a temporary
copy of Part 2's assignment folder with grading/course/solution/faces.py as faces.py. Prints each cell's
time and every error or stderr output; exits 1 if a cell has one.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from grading.course import build_course
from grading.course.part2 import build_faces_course
from grading.kit import FACES_ASSIGNMENT, FACES_SOURCE_NOTEBOOK, SOLUTION_FACES
from grading.ta.run_notebook import cell_problems, execute, grade_id


def run_faces_notebook(faces_root, budget="smoke", faces_py=SOLUTION_FACES, timeout=1800, log=print):
    """Run the Part 2 source notebook beside `faces_py` on the images in `faces_root`; (notebook, seconds per cell)."""
    nb = nbformat.read(FACES_SOURCE_NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_faces_course(build_course(tmp), solution_faces=faces_py) / "source" / FACES_ASSIGNMENT
        env = {"GAN_KIT_BUDGET": budget, "FACES_ROOT": str(Path(faces_root).resolve())}
        times = execute(nb, folder, env, timeout, log)
    return nb, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces-root", type=Path, required=True, help="folder of face images (ImageFolder layout)")
    parser.add_argument("--budget", choices=["smoke", "autograde", "full"], default="smoke")
    parser.add_argument("-o", "--output", type=Path, help="write the executed notebook here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    nb, _ = run_faces_notebook(args.faces_root, args.budget)
    failed = False
    for index, cell in enumerate(nb.cells):
        for problem in cell_problems(cell):
            print(f"cell {index} {grade_id(cell)}: {problem}")
            failed = True
    if args.output:
        nbformat.write(nb, args.output)
        print(f"wrote {args.output}")
    print(
        f"{FACES_ASSIGNMENT} ran in {time.perf_counter() - start:.0f} s with the {args.budget} budget: "
        f"{'FAILED' if failed else 'ok'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
