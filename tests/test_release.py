"""The student release: generated from its sources, stubs only, no solutions, no hidden tests, no outputs."""

import ast
import re

import nbformat
import pytest

from grading.kit import NOTEBOOK, SOLUTION_GAN, SOURCE_NOTEBOOK, STUDENT_GAN
from grading.ta import release
from grading.ta.make_student import make_student

STUBS = {
    "sample_noise": (3, 4),
    "discriminator": (),
    "generator": (),
    "discriminator_loss": (None, None),
    "generator_loss": (None,),
    "get_optimizer": (None,),
    "ls_discriminator_loss": (None, None),
    "ls_generator_loss": (None,),
    "build_dc_classifier": (128,),
    "build_dc_generator": (),
    "init_weights_normal": (None,),  # optional (Going further), ungraded
    "smoothed_discriminator_loss": (None, None),  # optional (Going further), ungraded
}


def solution_regions(text):
    """The code lines inside each BEGIN/END SOLUTION region of the solution module."""
    return re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", text, flags=re.S)


def test_committed_gan_py_is_generated_from_solution():
    assert STUDENT_GAN.read_text() == make_student(SOLUTION_GAN.read_text()), "run: python -m grading.ta.release"


def test_release_is_up_to_date():
    """gan.py and GANs-PyTorch.ipynb equal what `python -m grading.ta.release` makes (nbgrader)."""
    assert release.main(["--check"]) == 0, "run: python -m grading.ta.release"


@pytest.mark.parametrize("name", sorted(STUBS))
def test_every_stub_raises_naming_its_function(student, name):
    with pytest.raises(NotImplementedError, match=rf"^{name}:"):
        getattr(student, name)(*STUBS[name])


def test_solution_has_a_region_per_stub_and_student_file_none_of_its_code():
    solution_text, student_text = SOLUTION_GAN.read_text(), STUDENT_GAN.read_text()
    regions = solution_regions(solution_text)
    assert len(regions) == len(STUBS)
    assert "SOLUTION" not in student_text
    for region in regions:
        for line in region.splitlines():
            code = line.strip()
            if code and not code.startswith("#") and len(code) > 3 and code not in {")", "],", "),"}:
                assert code not in student_text, f"solution line leaked into gan.py: {code}"


def test_student_file_keeps_provided_code(student, solution):
    provided = ["bce_loss", "Flatten", "Unflatten", "initialize_weights"]
    tree = ast.parse(STUDENT_GAN.read_text())
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert set(provided) | set(STUBS) <= defined
    assert student.NOISE_DIM == 96 == solution.NOISE_DIM


def test_make_student_rejects_unbalanced_markers():
    with pytest.raises(ValueError):
        make_student("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(ValueError):
        make_student("def f():\n    return 1\n    ### END SOLUTION\n")


def test_release_notebook_has_no_solutions_hidden_tests_or_outputs():
    text = NOTEBOOK.read_text()
    for marker in ["BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "xy_pairs = [(-1, 2)", "q5_reaches_optimum = False"]:
        assert marker not in text
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_source_notebook_is_committed_without_outputs():
    for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_source_notebook_follows_the_assignment_order():
    text = "\n".join(cell.source for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells)
    sections = [
        "## Setup", "## How you will be graded", "## Dataset", "## Random Noise", "## Discriminator", "## Generator",
        "# GAN Loss", "# Optimizing Our Loss", "# Training a GAN", "## Inline Question 1", "# Least Squares GAN",
        "## Inline Question 2", "# Deeply Convolutional GANs", "## Inline Question 3", "## Inline Question 4",
        "## Inline Question 5", "## Inline Question 6", "## Before you submit",
    ]  # fmt: skip
    positions = [text.find(section) for section in sections]
    assert -1 not in positions and positions == sorted(positions)


def test_the_kits_nbgrader_starts_without_the_iri_checkers_parsers():
    """Every kit tool starts nbgrader through grading.course.NBGRADER: nbgrader runs (its version here), and
    rfc3987-syntax's 35 Lark parsers, which `python -m nbgrader` builds at import where it is installed, are not."""
    import importlib.util
    import subprocess
    import sys

    from grading.course import NBGRADER, nbgrader_env

    def started(argv):
        done = subprocess.run([argv[0], "-X", "importtime", *argv[1:], "--version"], capture_output=True, text=True,
                              env=nbgrader_env())  # fmt: skip
        assert done.returncode == 0 and "nbgrader version" in done.stdout, done.stderr[-2000:]
        return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}

    imported = started(NBGRADER)
    assert {"nbgrader.apps.nbgraderapp", "nbformat", "jsonschema"} <= imported
    assert "rfc3987_syntax.syntax_helpers" not in imported and "lark" not in imported  # (its name: looked up, refused)
    if importlib.util.find_spec("rfc3987_syntax"):  # the control: the plain command line does build them here
        assert {"rfc3987_syntax.syntax_helpers", "lark"} <= started([sys.executable, "-m", "nbgrader"])
