"""The autograde pass that writes the gradebook's scores (JudgedGrades): from the judge's verdicts only, once.

Run on a small nbgrader gradebook and notebook (no kernel): the cells' outputs claim the opposite of every
verdict, so a score taken from an output is seen.
"""

import json

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import compute_checksum

from grading.course.preprocessors.feedback_summary import VERDICTS
from grading.instructor.judging import verdict
from grading.instructor.judging.judged_grades import JudgedGrades
from grading.instructor.outputs.gradebook import url

ASSIGNMENT, NOTEBOOK, STUDENT = "GANs-PyTorch", "GANs-PyTorch", "ada"
ANSWER_TEXT = "YOUR ANSWER HERE"


def check_cell(grade_id, outputs):
    cell = nbformat.v4.new_code_cell("check()", metadata={"nbgrader": {"grade": True, "grade_id": grade_id,
                                                                        "points": 2, "solution": False}})  # fmt: skip
    cell.outputs = outputs
    return cell


PASSED_OUTPUT = [nbformat.v4.new_output("stream", name="stdout", text="All tests passed!\n")]
FAILED_OUTPUT = [nbformat.v4.new_output("error", ename="AssertionError", evalue="wrong", traceback=["wrong"])]


@pytest.fixture
def course(tmp_path):
    """A gradebook with ada's submission of five test cells, one written answer; the notebook as her kernel left it."""
    db = url(tmp_path / "gradebook.db")
    tests = ["test_sample_noise", "test_generator", "test_inline_q5", "test_inline_q6", "faces_q1", "extra_check"]
    answer = nbformat.v4.new_markdown_cell(ANSWER_TEXT, metadata={"nbgrader": {
        "grade": True, "solution": True, "grade_id": "q5_justification", "points": 1}})  # fmt: skip
    with Gradebook(db) as book:
        book.add_assignment(ASSIGNMENT)
        book.add_notebook(NOTEBOOK, ASSIGNMENT)
        for grade_id in tests:
            book.add_grade_cell(grade_id, NOTEBOOK, ASSIGNMENT, max_score=2, cell_type="code")
        book.add_grade_cell("q5_justification", NOTEBOOK, ASSIGNMENT, max_score=1, cell_type="markdown")
        answer.metadata.nbgrader["checksum"] = compute_checksum(answer)  # left as released: nbgrader scores it 0
        book.add_solution_cell("q5_justification", NOTEBOOK, ASSIGNMENT)
        book.add_student(STUDENT)
        with book.db.no_autoflush:
            book.add_submission(ASSIGNMENT, STUDENT)
    cells = [
        check_cell("test_sample_noise", FAILED_OUTPUT),  # the judge: passed
        check_cell("test_generator", PASSED_OUTPUT),  # the judge: not passed
        check_cell("test_inline_q5", PASSED_OUTPUT),  # judged from the exported answer (wrong)
        check_cell("test_inline_q6", FAILED_OUTPUT),  # judged from the exported answer (right)
        check_cell("faces_q1", PASSED_OUTPUT),  # null: graded by hand
        check_cell("extra_check", PASSED_OUTPUT),  # no verdict at all
        answer,
    ]
    resources = {"nbgrader": {"notebook": NOTEBOOK, "assignment": ASSIGNMENT, "student": STUDENT, "db_url": db}}
    return tmp_path, db, nbformat.v4.new_notebook(cells=cells), resources


def scores(db):
    with Gradebook(db) as book:
        grades = book.find_submission_notebook(NOTEBOOK, ASSIGNMENT, STUDENT).grades
        return {grade.name: (grade.auto_score, grade.needs_manual_grade) for grade in grades}


def test_scores_come_from_the_verdicts_and_the_exported_answers_never_from_outputs(course):
    from grading.instructor.judging.answers import expected_answers

    folder, db, nb, resources = course
    verdict.save(folder / "verdicts.json", {
        "test_sample_noise": verdict.Verdict(True, "sample_noise: uniform on [-1, 1]."),
        "test_generator": verdict.Verdict(False, "generator: the second layer is not 1024 wide."),
        "faces_q1": None,
    })  # fmt: skip
    answers = folder / "answers"
    answers.mkdir()
    right = expected_answers()
    (answers / "answers-q5.json").write_text(json.dumps({"q5_reaches_optimum": not right["q5"]["q5_reaches_optimum"]}))
    (answers / "answers-q6.json").write_text(json.dumps({"q6_good_sign": right["q6"]["q6_good_sign"]}))
    judged = str(folder / "judged-{notebook}.json")
    grades = JudgedGrades(verdicts=str(folder / "verdicts.json"), answers=str(answers), judged=judged)
    nb, resources = grades.preprocess(nb, resources)

    assert scores(db) == {
        "test_sample_noise": (2.0, False),
        "test_generator": (0.0, False),
        "test_inline_q5": (0.0, False),
        "test_inline_q6": (2.0, False),
        "faces_q1": (None, True),  # for a TA
        "extra_check": (None, True),  # no verdict: for a TA, whatever the kernel printed
        "q5_justification": (0.0, False),  # nbgrader's rule: left as released
    }
    messages = nb.metadata[VERDICTS]["verdicts"]
    assert messages["test_generator"] == "generator: the second layer is not 1024 wide."
    assert messages["test_inline_q5"].startswith("Inline Question 5: q5_reaches_optimum = ")
    assert "faces_q1" not in messages and "extra_check" not in messages
    written = verdict.load(folder / f"judged-{NOTEBOOK}.json")
    assert {item: None if v is None else v.passed for item, v in written.items()} == {
        "test_sample_noise": True, "test_generator": False, "test_inline_q5": False, "test_inline_q6": True,
        "faces_q1": None,
    }  # fmt: skip
    assert [cell.outputs for cell in nb.cells[:2]] == [FAILED_OUTPUT, PASSED_OUTPUT]  # what the student sees: kept


def test_without_verdicts_no_test_cell_is_scored(course):
    """nbgrader run by hand in the course folder: the kernel's outputs still score nothing."""
    _, db, nb, resources = course
    JudgedGrades().preprocess(nb, resources)
    assert scores(db) == {
        **dict.fromkeys(["test_sample_noise", "test_generator", "test_inline_q5", "test_inline_q6"], (None, True)),
        "faces_q1": (None, True),
        "extra_check": (None, True),
        "q5_justification": (0.0, False),
    }
