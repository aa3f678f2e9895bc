"""Build the student handout: the one zip students receive, with everything they need and nothing else.

    python -m grading.ta.handout [--out build/handout/GANs-PyTorch.zip]

    GANs-PyTorch/GANs-PyTorch.ipynb   the release notebook (no solutions, hidden tests or outputs)
    GANs-PyTorch/gan.py               the stubs students fill in
    GANs-PyTorch/requirements.txt     what the assignment needs to run locally
    GANs-PyTorch/nndl2/...            the provided package, as every nbgrader release gets it
    GANs-PyTorch/Faces-PyTorch.ipynb  Part 2 (optional): the faces notebook
    GANs-PyTorch/faces.py             Part 2's stubs

It is made from the committed release files (grading/kit.py's paths; nndl2/ less what
grading/course/IGNORED says is never released: MNIST, caches), so it never holds the solution, the source
notebook, hidden tests or grading code. It refuses to build when gan.py or the notebook is not what
`python -m grading.ta.release` makes from the current sources, or (in a git checkout) when a file
it would hand out is not tracked. The zip is deterministic (sorted members, fixed timestamps and
permissions): the same kit gives the same bytes, so a re-built handout can be compared with the one
students have.
"""

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from grading.course import IGNORED
from grading.kit import (
    ASSIGNMENT,
    FACES_NOTEBOOK,
    KIT_DATA,
    NOTEBOOK,
    ROOT,
    SOLUTION_FACES,
    SOLUTION_GAN,
    STUDENT_FACES,
    STUDENT_GAN,
)
from grading.ta.make_student import make_student
from grading.ta.release import release_faces_notebook, release_notebook

DEFAULT_OUT = ROOT / "build" / "handout" / f"{ASSIGNMENT}.zip"
REQUIREMENTS = ROOT / "requirements.txt"
TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record
FILE_MODE = 0o100644  # a regular file, rw-r--r--


def provided_files(folder=None):
    """{path relative to the folder's parent: file} of the provided package, less what is never released."""
    folder = Path(folder or KIT_DATA)
    found = {}
    for directory, subdirectories, names in os.walk(folder):
        ignored = IGNORED(directory, subdirectories + names)
        subdirectories[:] = sorted(name for name in subdirectories if name not in ignored)
        for name in names:
            if name not in ignored:
                path = Path(directory) / name
                found[path.relative_to(folder.parent).as_posix()] = path
    return found


class HandoutError(Exception):
    """The handout cannot be built as the kit stands (the message says what to do)."""


def untracked(files, root=ROOT):
    """Those of `files` that the git work tree `root` does not track; None when `root` is not one (an export)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tracked = {(Path(root) / name).resolve() for name in listed.decode().split("\0") if name}
    return [Path(path) for path in files if Path(path).resolve() not in tracked]


def stale_release():
    """Messages for each release file that is not what `python -m grading.ta.release` makes now."""
    problems = []
    if STUDENT_GAN.read_text() != make_student(SOLUTION_GAN.read_text()):
        problems.append(f"{STUDENT_GAN.name} is out of date")
    elif NOTEBOOK.read_text() != release_notebook():  # nbgrader: seconds, so only when gan.py is current
        problems.append(f"{NOTEBOOK.name} is out of date")
    if STUDENT_FACES.read_text() != make_student(SOLUTION_FACES.read_text()):  # Part 2 (optional), the same way
        problems.append(f"{STUDENT_FACES.name} is out of date")
    elif FACES_NOTEBOOK.read_text() != release_faces_notebook():
        problems.append(f"{FACES_NOTEBOOK.name} is out of date")
    return problems


def handout_files():
    """{name in the zip: file} of everything students receive."""
    files = {NOTEBOOK.name: NOTEBOOK, STUDENT_GAN.name: STUDENT_GAN, REQUIREMENTS.name: REQUIREMENTS}
    files |= {FACES_NOTEBOOK.name: FACES_NOTEBOOK, STUDENT_FACES.name: STUDENT_FACES}  # Part 2 (optional)
    files |= provided_files()
    return {f"{ASSIGNMENT}/{name}": files[name] for name in sorted(files)}


def write_zip(files, out):
    """Write {name: file} into the zip `out`, deterministically; returns out."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, wherever it is built, so the permissions below are read
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, Path(files[name]).read_bytes(), compresslevel=9)
    return out


def build(out=DEFAULT_OUT, check_release=True):
    """Check the release and the provided files, then write the handout zip; returns its path.

    check_release=False skips the release check (nbgrader, seconds): for callers that just ran it.
    """
    problems = stale_release() if check_release else []
    if problems:
        raise HandoutError("; ".join(problems) + ": run python -m grading.ta.release first")
    files = handout_files()
    loose = untracked(files.values())
    if loose:
        names = ", ".join(str(path) for path in loose)
        raise HandoutError(f"not committed, so not handed out: {names} (commit or remove them first)")
    return write_zip(files, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the zip to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        out = build(args.out)
    except HandoutError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(out) as archive:
        count = len(archive.namelist())
    print(f"wrote {out}: {count} files under {ASSIGNMENT}/, {out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
