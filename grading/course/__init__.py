"""Build a working nbgrader course folder from the committed course files.

The repository keeps one copy of everything: the source notebook in grading/course/source/, the student
gan.py and nndl2/ at the top level. nbgrader wants them together in source/<assignment>/, and
writes gradebooks, releases and submissions beside them, so every tool builds a fresh course
in a folder of its own (a temporary one, usually) with `build_course`.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from grading.course import going_further
from grading.kit import ASSIGNMENT, KIT_DATA, NBGRADER_CONFIG, ROOT, SKIP_EXIT_GC, SOURCE_NOTEBOOK, STUDENT_GAN

# Kit files that are not part of a release (torchvision downloads, caches).
IGNORED = shutil.ignore_patterns("MNIST", "__pycache__", "*.pyc", ".ipynb_checkpoints", "*.npy")


def build_course(root, solution_gan=None):
    """Lay out an nbgrader course in `root`; returns root. `solution_gan` replaces gan.py (tests)."""
    root = Path(root)
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    config = NBGRADER_CONFIG.read_text()
    line = 'KIT_ROOT = os.environ.get("GAN_KIT_ROOT", "")  # build_course writes the kit\'s path here\n'
    if line not in config:
        raise ValueError(f"{NBGRADER_CONFIG} has no KIT_ROOT line to fill in")
    generated = f"KIT_ROOT = {str(ROOT)!r}  # written by grading/course/__init__.py build_course\n"
    (root / "nbgrader_config.py").write_text(config.replace(line, generated))
    going_further.write_course_notebook(source / SOURCE_NOTEBOOK.name)  # with the reflections' points, if any
    shutil.copy(solution_gan or STUDENT_GAN, source / "gan.py")
    shutil.copytree(KIT_DATA, source / KIT_DATA.name, ignore=IGNORED, dirs_exist_ok=True)
    return root


def nbgrader_env(env=None):
    """The environment nbgrader runs in: `env` (default os.environ) plus what the course needs."""
    environ = dict(os.environ if env is None else env)
    environ["GAN_KIT_ROOT"] = str(ROOT)  # nbgrader_config.py imports the course's preprocessors from here
    # nbgrader runs `alembic`: the venv's bin/ must be on PATH even when it is not activated.
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    return environ


# How every kit tool starts nbgrader's command line: `python -m nbgrader`, but for one import. jsonschema imports
# every format checker that is installed, and rfc3987-syntax (which Jupyter's packages pull in through
# jsonschema[format-nongpl]) compiles about 35 Lark parsers when imported: 1.7 of the 3.8 s nbgrader takes to
# start on these machines, twice per graded submission (python-jsonschema/jsonschema#1428). No notebook schema
# uses the IRI formats it checks, so nbgrader starts with that import refused (None in sys.modules: Python's way
# to make an import fail); jsonschema then goes without those two checkers, and nothing else changes.
NBGRADER = [
    sys.executable,
    "-c",
    f"{SKIP_EXIT_GC}; import sys; sys.modules['rfc3987_syntax'] = None; from nbgrader.apps.nbgraderapp import main; "
    "main()",
]


def nbgrader(root, *args, env=None, timeout=None, check=True):
    """Run the nbgrader command line in course `root` with this Python's environment."""
    environ = nbgrader_env(env)
    command = [*NBGRADER, *args, "--CourseDirectory.root=" + str(root)]
    return subprocess.run(command, cwd=root, env=environ, timeout=timeout, check=check, capture_output=True, text=True)


def generate_assignment(root):
    """nbgrader generate_assignment: writes root/release/<assignment>/ and the gradebook."""
    db = f"sqlite:///{Path(root) / 'gradebook.db'}"
    return nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", f"--db={db}")
