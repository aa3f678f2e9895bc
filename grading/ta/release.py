"""Build the student release: gan.py from the solution, GANs-PyTorch.ipynb from the nbgrader source.

    python -m grading.ta.release           # regenerate gan.py and GANs-PyTorch.ipynb at the top level
    python -m grading.ta.release --check   # exit 1 if either committed file differs from what it makes

Part 2 (optional, grading/course/part2.py) is a second pair made the same way: faces.py from
grading/course/solution/faces.py and Faces-PyTorch.ipynb from its own nbgrader source.

nbgrader generate_assignment strips solutions and hidden tests from the source notebook
(grading/course/source/GANs-PyTorch/GANs-PyTorch.ipynb) and clears outputs; grading/ta/make_student.py
does the same for gan.py.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat

from grading.course import build_course, generate_assignment
from grading.course.part2 import build_faces_course, generate_faces_assignment
from grading.kit import (
    ASSIGNMENT,
    FACES_ASSIGNMENT,
    FACES_NOTEBOOK,
    NOTEBOOK,
    SOLUTION_FACES,
    SOLUTION_GAN,
    STUDENT_FACES,
    STUDENT_GAN,
)
from grading.ta.make_student import make_student


def release_notebook():
    """The release notebook's text, as nbgrader generates it from the source notebook."""
    with tempfile.TemporaryDirectory() as tmp:
        root = build_course(tmp)
        generate_assignment(root)
        notebook = nbformat.read(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return nbformat.writes(notebook) + "\n"


def release_faces_notebook():
    """Part 2's release notebook text, as nbgrader generates it from its source notebook."""
    with tempfile.TemporaryDirectory() as tmp:
        root = build_faces_course(build_course(tmp))
        generate_faces_assignment(root)
        notebook = nbformat.read(root / "release" / FACES_ASSIGNMENT / f"{FACES_ASSIGNMENT}.ipynb", as_version=4)
    return nbformat.writes(notebook) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the committed release is current")
    args = parser.parse_args(argv)
    student_gan = make_student(SOLUTION_GAN.read_text())
    student_faces = make_student(SOLUTION_FACES.read_text())
    if not args.check:
        STUDENT_GAN.write_text(student_gan)  # first: the release copies it
        STUDENT_FACES.write_text(student_faces)
    expected = {STUDENT_GAN: student_gan, NOTEBOOK: release_notebook()}
    expected |= {STUDENT_FACES: student_faces, FACES_NOTEBOOK: release_faces_notebook()}
    stale = [path for path, text in expected.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.name} is out of date: run python -m grading.ta.release", file=sys.stderr)
        if not stale:
            print("gan.py, faces.py and the two release notebooks are up to date")
        return 1 if stale else 0
    for path, text in expected.items():
        Path(path).write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
