"""The corpus's notebooks: the release, the answered reference, and transformations of them.

Each function returns a fresh nbformat NotebookNode; NOTEBOOKS names them for tests/corpus/index.py.
Honest variants (answers written another way, a messy notebook) must earn what the answered reference
earns; the forgery variants are attempts to earn answer points without the right answers.
"""

import copy

import nbformat

from grading.kit import NOTEBOOK
from grading.ta.examples import answered_notebook, colab_saved, grade_id

# The answers of Inline Questions 4-6 computed with numpy, as a student checking the iteration would:
# the values are numpy scalars (np.int64 inside the pairs, np.float64 for the min-max value).
NUMPY_Q4 = """\
# Inline Question 4: I let numpy do the six steps (y ascends first, then x descends with the new y).
import numpy as np

minmax_value = np.float64(0.0)
state = np.array([1, 1])  # (x, y)
xy_pairs = []
for step in range(6):
    state[1] = state[1] + state[0]
    state[0] = state[0] - state[1]
    xy_pairs.append((state[0], state[1]))
print(minmax_value, xy_pairs)
"""

# The same answers as floats, the pairs as lists (what a student copying from a printout types).
FLOAT_Q4 = """\
# Inline Question 4
minmax_value = 0.0
xy_pairs = [[-1.0, 2.0], [-2.0, 1.0], [-1.0, -1.0], [1.0, -2.0], [2.0, -1.0], [1.0, 1.0]]
"""
FLOAT_Q5 = "# Inline Question 5\nq5_reaches_optimum = bool(0)\n"
FLOAT_Q6 = "# Inline Question 6\nq6_good_sign = 1 == 0\n"

# A forgery: wrong answers, with builtins shadowed in the notebook's namespace and == redefined, so that
# checks run in the kernel (isinstance, len, float(minmax_value) == 0, pairs == expected) would accept
# anything. The answers deserve nothing.
BUILTINS_Q4 = """\
# Inline Question 4
class AlwaysEqual(list):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


def float(value=0):  # noqa: A001 - shadows the builtin on purpose
    return 0.0


def isinstance(value, kinds):  # noqa: A001
    return True


def len(value):  # noqa: A001
    return 6


minmax_value = 7
xy_pairs = AlwaysEqual([(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12)])
"""
BUILTINS_Q5 = """\
# Inline Question 5
class Truthy(int):
    def __eq__(self, other):
        return True

    def __bool__(self):
        return True


bool = Truthy  # noqa: A001
q5_reaches_optimum = True
"""
BUILTINS_Q6 = "# Inline Question 6\nq6_good_sign = True\n"


def release():
    """The blank release notebook, as students get it."""
    return nbformat.read(NOTEBOOK, as_version=4)


def with_answers(notebook, answers):
    """`notebook` with the sources of the cells named in `answers` ({grade_id: source}) replaced."""
    notebook = copy.deepcopy(notebook)
    left = dict(answers)
    for cell in notebook.cells:
        if grade_id(cell) in left:
            cell.source = left.pop(grade_id(cell))
    if left:
        raise ValueError(f"no cells with grade ids {sorted(left)}")
    return notebook


def numpy_answers():
    """Right answers, Question 4's computed with numpy (numpy scalars in the values)."""
    return with_answers(answered_notebook(), {"q4_answer": NUMPY_Q4})


def float_answers():
    """Right answers written as floats, lists and expressions."""
    return with_answers(answered_notebook(), {"q4_answer": FLOAT_Q4, "q5_answer": FLOAT_Q5, "q6_answer": FLOAT_Q6})


def messy():
    """The answered notebook as a student's working copy can look: every answer is right, but a test cell
    was copy-pasted (nbgrader metadata and all), two read-only cells were deleted, another was edited, the
    answer cells were moved below a scratch cell at the end, and scratch cells were added."""
    notebook = answered_notebook()
    cells = []
    for cell in notebook.cells:
        gid = grade_id(cell)
        if gid in ("import_helpers", "show_vanilla"):
            continue  # deleted
        if gid == "test_generator":
            edited = copy.deepcopy(cell)
            edited.source = "# I only wanted to see the shape\nprint(generator()(torch.zeros(2, 96)).shape)"
            cells.append(edited)
            continue
        cells.append(cell)
        if gid == "test_discriminator":
            pasted = copy.deepcopy(cell)  # pasted again: Jupyter gives it a new id, the nbgrader metadata stays
            pasted["id"] = "pasted-test-discriminator"
            cells.append(pasted)
            scratch = nbformat.v4.new_code_cell("D_try = discriminator()\nprint(D_try)")
            cells.append(scratch)
    answers = [cell for cell in cells if grade_id(cell) in ("q4_answer", "q5_answer", "q6_answer")]
    cells = [cell for cell in cells if cell not in answers]
    cells.append(nbformat.v4.new_markdown_cell("## my answers (moved here)"))
    cells.extend(answers)
    notebook.cells = cells
    return notebook


def builtins_forgery():
    """Forgery: wrong answers to Questions 4-6 with float, isinstance, len, bool and == redefined."""
    return with_answers(
        answered_notebook(), {"q4_answer": BUILTINS_Q4, "q5_answer": BUILTINS_Q5, "q6_answer": BUILTINS_Q6}
    )


def all_tests_passed():
    """Forgery: the blank release with every test cell replaced by, and a cell after every code cell
    printing, "All tests passed!" (the answer cells stay unanswered)."""
    notebook = release()
    cells = []
    for cell in notebook.cells:
        if (grade_id(cell) or "").startswith("test_"):
            cell = copy.deepcopy(cell)
            cell.source = 'print("All tests passed!")'
        cells.append(cell)
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell('print("All tests passed!")'))
    notebook.cells = cells
    return notebook


NOTEBOOKS = {
    "blank": release,
    "answered": answered_notebook,
    "colab": lambda: colab_saved(answered_notebook()),
    "numpy_answers": numpy_answers,
    "float_answers": float_answers,
    "messy": messy,
    "builtins_forgery": builtins_forgery,
    "all_tests_passed": all_tests_passed,
}
