"""Inline Questions 4-6: the answers the notebook's kernel exported (nndl2/answers.py), judged against the
source notebook's solution cells. The kernel only reports the answers; these functions decide.

Light on purpose (no PyTorch): the course's nbgrader pass (judged_grades.py) runs them in nbgrader's process,
between the kernel's run and the gradebook's scores.
"""

import json
import math
import re
from pathlib import Path

import nbformat

from grading.instructor.judging.verdict import ExportError, Verdict, clean
from grading.kit import SOURCE_NOTEBOOK
from nndl2.items import of_kind

MAX_ANSWER_BYTES = 64 * 2**10


def expected_answers(notebook=SOURCE_NOTEBOOK):
    """The right answers: the source notebook's solution regions of the answer cells, run here (trusted code)."""
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nbformat.read(notebook, 4).cells}
    answers = {}
    for item in of_kind("answer"):
        question, grade_id = item.answer_name, item.answer_cell
        region = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cells[grade_id].source, re.S)
        namespace = {}
        exec(compile(region.group(1), f"<{grade_id}>", "exec"), namespace)  # noqa: S102 (the course's own code)
        answers[question] = {k: v for k, v in namespace.items() if not k.startswith("__")}
    return answers


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def judge_q4(answer, expected):
    value, pairs = answer.get("minmax_value"), answer.get("xy_pairs")
    if not is_number(value):
        return Verdict(False, "Inline Question 4: minmax_value must be a number.")
    if not math.isclose(value, expected["minmax_value"], abs_tol=1e-9):
        return Verdict(False, "Inline Question 4: minmax_value is not the min-max value of f(x, y) = xy.")
    want = [tuple(map(float, pair)) for pair in expected["xy_pairs"]]
    if not isinstance(pairs, list) or len(pairs) != len(want):
        return Verdict(False, f"Inline Question 4: xy_pairs must be a list of {len(want)} (x, y) pairs.")
    for number, (pair, right) in enumerate(zip(pairs, want, strict=True), 1):
        if not (isinstance(pair, list) and len(pair) == 2 and all(is_number(v) for v in pair)):
            return Verdict(False, f"Inline Question 4: pair {number} of xy_pairs is not two numbers.")
        if not all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(pair, right, strict=True)):
            return Verdict(False, f"Inline Question 4: minmax_value is right; pair {number} of xy_pairs is not.")
    return Verdict(True, "Inline Question 4: the min-max value and all six (x, y) pairs are right.")


def judge_truth(number, name, answer, expected):
    value = answer.get(name)
    if not isinstance(value, bool):
        if value is None:
            shown = "it is not set"
        elif isinstance(value, dict) and "string" in value:
            shown = "got a string"
        else:
            shown = f"got {clean(type(value).__name__, 20)}"
        return Verdict(False, f"Inline Question {number}: {name} must be True or False ({shown}).")
    if value != expected[name]:
        return Verdict(False, f"Inline Question {number}: {name} = {value} is not the right answer.")
    return Verdict(True, f"Inline Question {number}: {name} = {value} is right.")


def judge_answers(folder, expected=None):
    """{grade id: Verdict} of Inline Questions 4-6 from the notebook's exported answers in `folder`."""
    expected = expected or expected_answers()
    verdicts = {}
    for answer_item in of_kind("answer"):
        item, number = answer_item.grade_id, answer_item.question
        question = answer_item.answer_name  # the name the notebook's save_answers wrote it under
        path = Path(folder) / f"answers-{question}.json"
        try:
            if path.is_symlink() or not path.is_file():
                raise ExportError("missing")
            if path.stat().st_size > MAX_ANSWER_BYTES:
                raise ExportError("too large")
            answer = json.loads(path.read_text())
            if not isinstance(answer, dict):
                raise ExportError("unreadable")
        except (ExportError, OSError, ValueError) as error:
            why = "the notebook did not reach its test cell" if str(error) == "missing" else f"{error}"
            verdicts[item] = Verdict(False, f"Inline Question {number}: no answer was recorded ({why}).")
            continue
        if question == "q4":
            verdicts[item] = judge_q4(answer, expected["q4"])
        else:
            name = next(iter(expected[question]))
            verdicts[item] = judge_truth(number, name, answer, expected[question])
    return verdicts
