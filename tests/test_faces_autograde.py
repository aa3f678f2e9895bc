"""Part 2 wired into the instructor's autograde: with FACES_POINTS above 0, faces.py is found, exported in the
sandbox and judged, its items are columns of grades.csv and lines of the feedback; with 0 (the default) the
autograde is Part 1's alone."""

import base64
import csv
import html
import io
import json
import re
import shutil

import nbformat
import pytest
from PIL import Image

from grading.course import part2
from grading.instructor import autograde
from grading.instructor.intake.normalize import rebuild
from grading.instructor.intake.submissions import collect
from grading.instructor.outputs import gradebook
from grading.instructor.outputs.gradebook import url as gradebook_url
from grading.instructor.settings import Clock, Settings, TimeBudget
from grading.kit import FACES_NOTEBOOK, SOLUTION_FACES, STUDENT_GAN
from grading.ta.examples import answered_notebook, write_submission

FUNCTIONS = [
    "faces_get_data_loader",
    "faces_scale",
    "faces_discriminator",
    "faces_generator",
    "faces_weights_init_normal",
    "faces_real_loss",
    "faces_fake_loss",
    "faces_get_optimizers",
]
BY_HAND = ["faces_samples", "faces_q1", "faces_q2", "faces_q3"]  # in the notebook's order, after the functions


@pytest.fixture
def faces_points(monkeypatch):
    monkeypatch.setattr(part2, "FACES_POINTS", 2)


# ---------------------------------------------------------------------------
# The pieces: which files, which items, which checksum, which time limit
# ---------------------------------------------------------------------------


def test_default_items_are_part1s_alone():
    assert part2.FACES_POINTS == 0
    items = autograde.graded_items()
    assert not [grade_id for grade_id, _, _ in items if grade_id.startswith("faces_")]
    assert autograde.grading_files() == autograde.GRADING_FILES


def test_points_add_part2s_items_after_part1s(faces_points):
    part1 = [item for item in autograde.graded_items() if not item[0].startswith("faces_")]
    items = autograde.graded_items()
    assert items[: len(part1)] == part1
    assert items[len(part1) :] == [(g, 2.0, True) for g in FUNCTIONS] + [(g, 2.0, False) for g in BY_HAND]
    assert set(autograde.FACES_GRADING_FILES) <= set(autograde.grading_files())


def write_folder(folder, names):
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text("")


def test_faces_py_is_found_only_when_part2_is_graded(tmp_path):
    write_folder(tmp_path / "ada", ["GANs-PyTorch.ipynb", "gan.py", "Copy of faces (1).py", "Faces-PyTorch.ipynb"])
    write_folder(tmp_path / "bob", ["GANs-PyTorch.ipynb", "gan.py"])
    write_folder(tmp_path / "eve", ["gan (2).py", "faces.py", "faces-1.py"])
    ada, bob, eve = collect(tmp_path, faces=True)
    assert {kind: path.name for kind, path in ada.files.items()} == {
        "notebook": "GANs-PyTorch.ipynb",
        "gan": "gan.py",
        "faces": "Copy of faces (1).py",
        "faces_notebook": "Faces-PyTorch.ipynb",
    }
    assert ada.problems == [] and bob.problems == [] and "faces" not in bob.files  # no faces.py is no problem
    assert {kind: path.name for kind, path in eve.files.items()} == {"gan": "gan (2).py", "faces": "faces.py"}
    assert eve.problems == [
        '2 candidates for faces.py: graded "faces.py" (the exact name); not graded: "faces-1.py"',
        "missing GANs-PyTorch.ipynb",
    ]
    ada, bob, eve = collect(tmp_path)  # the default: Part 1's files only, the others as before
    assert "faces" not in ada.files and "faces" not in eve.files and "faces_notebook" not in ada.files
    assert eve.problems == ['missing GANs-PyTorch.ipynb (the submission has: "faces-1.py", "faces.py")']


def test_a_hang_in_faces_py_is_located_in_faces_py(tmp_path):
    (tmp_path / "faces.py").write_text("import time\n\nwhile True:\n    time.sleep(1)\n")
    stderr = (
        "Timeout (0:00:09)!\nThread 0x1 (most recent call first):\n"
        f'  File "{tmp_path}/faces.py", line 4 in <module>\n'
        '  File "/usr/lib/python3.11/runpy.py", line 88 in _run_code\n'
    )
    where = autograde.hang_location(stderr, tmp_path / "faces.py")
    assert where == 'at line 4 of faces.py, "time.sleep(1)", importing it'


def test_the_faces_export_has_its_own_limit_and_leaves_part1s_stages_theirs():
    clock = TimeBudget(900).start()
    assert clock.faces() == 45.0 and clock.functions() == 90.0
    clock.started -= 850  # 50 s left: the faces export may not eat the reserves of the stages after it
    assert clock.faces() == Clock.MIN_LIMIT


def test_a_faces_py_that_hangs_costs_its_own_limit_and_says_where(tmp_path, faces_points):
    """In the sandbox: stopped at the faces export's limit (5% of a 200 s budget: 10 s), every item lost for that."""
    grader = autograde.Grader(tmp_path / "out", Settings(time=TimeBudget(200)), log=lambda *args: None)
    staged = tmp_path / "faces.py"
    staged.write_text("import time\n\nwhile True:\n    time.sleep(0.1)\n")
    run = autograde.Run(None, tmp_path / "work", grader.settings.time.start(), staged={"faces": staged})
    run.work.mkdir()
    grader.grade_faces(run)
    assert run.phases["faces"] < 20
    where = 'at line 4 of faces.py, "time.sleep(0.1)", importing it'
    cause = f"the grader's run of faces.py did not finish in 10 s (it was {where})"
    assert run.reasons == [cause]
    assert {item: v.message for item, v in run.verdicts.items()} == {
        item: f"{name}: not graded: {cause}." for item, name in part2.FUNCTION_ITEMS.items()
    }


# ---------------------------------------------------------------------------
# End to end: two submissions at the smoke budget, in the sandbox (a faces.py with a bug loses its item: judged in one
# process for every mutant, tests/test_faces.py)
# ---------------------------------------------------------------------------

ANSWERS = {  # what the reference submission wrote in Part 2's answer cells (the third one hostile)
    "faces_q1": "I trained 8 epochs with z of length 128: the faces got sharper.",
    "faces_q2": "D learns the real faces' features and tells G's fakes apart.",
    "faces_q3": "At the equilibrium D cannot tell: <script>alert('q3')</script> D(x) = 1/2.",
}


def png_grid(size=32):
    """A small real PNG: a student's grid of generated faces."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 120, 90)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def answered_faces_notebook():
    """The shipped Part 2 notebook (ungraded release) as a student saves it after running it: answers written,
    the training log, a grid of faces shown, and one hostile output (an HTML script) in a cell of their own."""
    notebook = nbformat.read(FACES_NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        item = cell.metadata.get(part2.MARKER)
        if item in ANSWERS:
            cell.source = ANSWERS[item]
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "faces_train":
            log = "[1/1][0/4] Loss_D: 1.3 Loss_G: 0.7\n"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=log)]
        if grade_id == "faces_final_samples":
            grid = {"image/png": png_grid(), "text/plain": "<Figure: the grid>"}
            cell.outputs = [nbformat.v4.new_output("display_data", data=grid)]
        if grade_id == "faces_scale":  # a check's output claims nothing: the judge scores it
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="CLAIMED PASS\n")]
    hostile = nbformat.v4.new_code_cell("display(HTML(...))")
    hostile.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<script>alert('output')</script>"}),
    ]
    malformed = nbformat.v4.new_code_cell("print()")  # what no Jupyter writes, but a file may hold
    malformed.outputs = [{"output_type": "display_data", "data": ["x"], "metadata": [1]}, "text", {"output_type": 3}]
    notebook.cells += [hostile, malformed]
    return notebook


def test_a_faces_notebook_is_rebuilt_around_part2s_release_with_the_students_outputs():
    """Answers found by their marker (the ungraded release has no grade ids on them), outputs kept but on the graded
    checks, every output rebuilt inert, and the ungraded release's metadata not told as an edit."""
    release = part2.course_notebook(1)
    shipped = nbformat.read(FACES_NOTEBOOK, as_version=4)
    data = json.dumps(answered_faces_notebook()).encode()  # as saved: nbformat would refuse the malformed outputs
    notebook, notes = rebuild(data, release, keep_outputs=True, name="Faces-PyTorch.ipynb", also=shipped)
    assert notes == []
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}
    assert {item: cells[item].source for item in ANSWERS} == ANSWERS
    assert cells["faces_q1"].metadata.nbgrader.solution and cells["faces_q1"].metadata.nbgrader.points == 1
    assert cells["faces_final_samples"].outputs[0].data["image/png"] == png_grid()
    assert "Loss_D: 1.3" in cells["faces_train"].outputs[0].text
    assert cells["faces_scale"].outputs == []  # a graded check: the judge scores it, not what the student printed
    hostile, malformed = notebook.cells[-2:]
    assert [output.data for output in hostile.outputs] == [{"text/plain": "[text/html output not shown]"}]
    assert [output.data for output in malformed.outputs] == [{}]
    nbformat.validate(notebook)
    _, notes = rebuild(b"{", release, keep_outputs=True, name="Faces-PyTorch.ipynb", also=shipped)
    assert notes[0].startswith("Faces-PyTorch.ipynb is not a readable notebook")
    # Part 1 as before: without keep_outputs, no output of the student's
    notebook, _ = rebuild(data, release, name="Faces-PyTorch.ipynb")
    assert not any(cell.get("outputs") for cell in notebook.cells)


def test_part2s_notebook_is_not_run_and_keeps_its_outputs_within_the_output_limits():
    """The autograde passes: Part 2's notebook keeps the student's outputs but the graded checks', cut to the same
    byte limits as a run's (no kernel is started); Part 1's are cleared and run as before."""
    from grading.course.preprocessors.keep_outputs import KeepOutputs
    from grading.course.preprocessors.limited_execute import LimitedExecute

    def notebook():
        check = nbformat.v4.new_code_cell("test_scale()", metadata={"nbgrader": {"grade": True, "grade_id": "x"}})
        check.outputs = [nbformat.v4.new_output("stream", name="stdout", text="CLAIMED PASS\n")]
        log = nbformat.v4.new_code_cell("train()")
        log.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="L" * 3000),
            nbformat.v4.new_output("display_data", data={"image/png": png_grid()}),
        ]
        grid = nbformat.v4.new_code_cell("show()")
        grid.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png_grid()})]
        return nbformat.v4.new_notebook(cells=[check, log, grid])

    kept, _ = KeepOutputs().preprocess(notebook(), {"unique_key": part2.NOTEBOOK})
    assert [len(cell.outputs) for cell in kept.cells] == [0, 2, 1]
    cleared, _ = KeepOutputs().preprocess(notebook(), {"unique_key": "GANs-PyTorch"})
    assert [len(cell.outputs) for cell in cleared.cells] == [0, 0, 0]
    limited, _ = LimitedExecute(max_output_bytes=1000).preprocess(kept, {"unique_key": part2.NOTEBOOK})
    log, grid = limited.cells[1].outputs, limited.cells[2].outputs
    assert log[0].text == "L" * 1000 and log[1].text == "\n[output truncated at 1000 bytes]\n"
    assert len(log) == 2  # the image after the cut text is dropped
    assert grid[0].data["image/png"] == png_grid()  # a cell of its own: its own 1000 bytes
    assert limited.cells[0].outputs == []  # not run


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_real):
    """reference (faces.py and both notebooks; Part 1's gan.py the release's stubs) and Part 1's notebook alone (no
    faces.py, no gan.py, no Part 2 notebook): graded with points 1."""
    tmp = tmp_path_factory.mktemp("faces-autograde")
    submissions, out = tmp / "submissions", tmp / "out"
    answered = answered_notebook()
    # Part 1's gan.py as released (its stubs): nothing of Part 1 is asserted here, and no GAN of it trains
    reference = write_submission(submissions / "reference", answered, STUDENT_GAN.read_text())
    shutil.copy(SOLUTION_FACES, reference / "faces.py")
    (reference / "Copy of Faces-PyTorch.ipynb").write_text(json.dumps(answered_faces_notebook()))
    (submissions / "nofaces").mkdir()
    shutil.copy(reference / "GANs-PyTorch.ipynb", submissions / "nofaces")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(part2, "FACES_POINTS", 1)
        results, items = autograde.autograde(
            submissions, out, Settings(budget="smoke", mnist_root=mnist_real, jobs=1), log=lambda *args: None
        )
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {result["student"]: result for result in results}, items, rows, out


def feedback_lines(out, student):
    """The feedback summary's rows as plain text, one per item (title, score and message)."""
    page = (out / "feedback" / f"{student}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return " ".join(text.split())


@pytest.mark.slow
def test_grades_csv_has_part2s_columns_and_scores(graded):
    results, items, rows, out = graded
    header = list(rows["reference"])
    part1 = [autograde.column(g) for g, _, _ in items if not g.startswith("faces_")]
    at = header.index(part1[-1]) + 1
    assert header[at : at + 12] == FUNCTIONS + BY_HAND
    reference, nofaces = rows["reference"], rows["nofaces"]
    assert [reference[c] for c in FUNCTIONS] == ["1"] * 8
    assert [reference[c] for c in BY_HAND] == [""] * 4  # to be graded by hand
    assert [nofaces[c] for c in FUNCTIONS] == ["0"] * 8 and [nofaces[c] for c in BY_HAND] == [""] * 4
    number = header.index("faces_get_data_loader") - header.index(part1[0]) + 1
    assert f"no faces.py: items {number}-{number + 7} scored 0" in nofaces["reason"]
    assert "missing gan.py" in nofaces["reason"]  # Part 1's gan.py: its items lost, the row goes on
    assert "faces" not in reference["reason"]
    part1_auto = sum(p for g, p, a in items if a and not g.startswith("faces_"))
    part1_all = sum(p for g, p, _ in items if not g.startswith("faces_"))
    assert (float(reference["autograded_max"]), float(reference["total_max"])) == (part1_auto + 8, part1_all + 12)
    assert results["reference"]["messages"]["faces_scale"].startswith("scale: maps [0, 1]")


@pytest.mark.slow
def test_feedback_lists_part2s_items_with_the_judges_messages(graded):
    results, _, _, out = graded
    reference = feedback_lines(out, "reference")
    at = reference.index("Faces-PyTorch: 8.0 / 12.0 points")  # Part 2's heading, after Part 1's items
    assert reference.index("Inline Question 6: why (graded by hand)") < at
    # Part 2's items in its notebook's order: the judge's message of each function, then the items by hand
    shown = [results["reference"]["messages"][item] for item in FUNCTIONS] + [part2.HAND_ITEMS[i] for i in BY_HAND]
    places = [reference.index(text, at) for text in shown]
    assert places == sorted(places)
    assert reference.count("to be graded by your TA") == 2 + 4  # Part 1's two justifications, Part 2's four
    nofaces = feedback_lines(out, "nofaces")
    assert "Faces-PyTorch: 0.0 / 12.0 points" in nofaces
    message = results["nofaces"]["messages"]["faces_real_loss"]  # a lost item's line says why
    assert message == "no faces.py." and message in nofaces


def test_switching_part2_over_graded_submissions_stops_with_the_reason(tmp_path):
    """nbgrader cannot add a notebook to an assignment with submissions: say so instead of failing in nbgrader."""
    from nbgrader.api import Gradebook

    db = tmp_path / "gradebook.db"
    with Gradebook(gradebook_url(db)) as book:
        book.add_assignment("GANs-PyTorch")
        book.add_notebook("GANs-PyTorch", "GANs-PyTorch")
        assert gradebook.notebooks_changed(db, {"GANs-PyTorch", "Faces-PyTorch"}) == ""  # no submission yet
        book.add_student("ada")
        with book.db.no_autoflush:  # nbgrader's add_submission otherwise flushes half-built rows (SAWarning)
            book.add_submission("GANs-PyTorch", "ada")
    assert gradebook.notebooks_changed(db, {"GANs-PyTorch"}) == ""
    assert gradebook.notebooks_changed(db, {"GANs-PyTorch", "Faces-PyTorch"}) == (
        "the graded notebooks changed since its submissions were graded (Faces-PyTorch added)"
    )
    assert gradebook.notebooks_changed(tmp_path / "none.db", {"GANs-PyTorch"}) == ""


TA_COMMENT = "Clear and right: D cannot do better than chance."


@pytest.fixture(scope="module")
def hand_graded(graded, mnist_real):
    """A TA grades the reference's Question 1 and samples in the gradebook, as formgrader does; then autograde again."""
    from nbgrader.api import Gradebook

    _, _, _, out = graded
    with Gradebook(gradebook_url(out / "course" / "gradebook.db")) as book:
        book.find_grade("faces_q1", "Faces-PyTorch", "GANs-PyTorch", "reference").manual_score = 1.0
        book.find_comment("faces_q1", "Faces-PyTorch", "GANs-PyTorch", "reference").manual_comment = TA_COMMENT
        book.find_grade("faces_samples", "Faces-PyTorch", "GANs-PyTorch", "reference").manual_score = 0.5
        book.db.commit()
    submissions = out.parent / "submissions"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(part2, "FACES_POINTS", 1)
        autograde.autograde(
            submissions, out, Settings(budget="smoke", mnist_root=mnist_real, jobs=1), log=lambda *a: None
        )
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return rows, out


@pytest.mark.slow
def test_the_submitted_faces_notebook_is_in_the_gradebook_with_its_answers_and_samples(graded):
    """formgrader shows the TA the autograded notebook: the student's answers and grid, nothing active, not run."""
    from nbgrader.api import Gradebook

    _, _, _, out = graded
    autograded = out / "course" / "autograded" / "reference" / "GANs-PyTorch" / "Faces-PyTorch.ipynb"
    notebook = nbformat.read(autograded, as_version=4)
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}
    assert cells["faces_q1"].source == ANSWERS["faces_q1"] and cells["faces_q2"].source == ANSWERS["faces_q2"]
    assert "< script>" in cells["faces_q3"].source  # inert markdown
    assert cells["faces_final_samples"].outputs[0].data["image/png"] == png_grid()
    assert cells["faces_train"].outputs[0].text.startswith("[1/1][0/4] Loss_D")  # the student's log: not run again
    assert "CLAIMED" not in nbformat.writes(notebook)
    assert "<script" not in nbformat.writes(notebook)
    with Gradebook(gradebook_url(out / "course" / "gradebook.db")) as book:
        submitted = book.find_submission_notebook("Faces-PyTorch", "GANs-PyTorch", "reference")
        grades = {grade.name: grade for grade in submitted.grades}
        assert all(grades[item].needs_manual_grade for item in BY_HAND)
        assert [grades[item].auto_score for item in FUNCTIONS] == [1.0] * 8  # the judge's
    # not submitted: the release stands in for it, so that the judge's pass scores faces.py's items (no page of its own)
    unsubmitted = out / "course" / "autograded" / "nofaces" / "GANs-PyTorch" / "Faces-PyTorch.ipynb"

    def by_id(path):
        return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(path, as_version=4).cells}

    stand_in, released = by_id(unsubmitted), by_id(out / "course" / autograde.FACES_RELEASE)
    assert [stand_in[item].source for item in BY_HAND[1:]] == [released[item].source for item in BY_HAND[1:]]
    page = (out / "feedback" / "Faces-PyTorch" / "reference.html").read_text()
    assert "data:image/png;base64," in page and "the faces got sharper" in page
    assert "alert(" not in page.replace("&lt; script&gt;alert(", "")  # the hostile answer shown as text only
    assert not (out / "feedback" / "Faces-PyTorch" / "nofaces.html").exists()


@pytest.mark.slow
def test_a_tas_scores_reach_grades_csv_and_the_feedback(graded, hand_graded):
    _, _, before, _ = graded
    rows, out = hand_graded
    reference = rows["reference"]
    assert [reference[item] for item in BY_HAND] == ["0.5", "1", "", ""]
    assert float(reference["total_score"]) == float(before["reference"]["total_score"]) + 1.5
    assert [rows["nofaces"][item] for item in BY_HAND] == [""] * 4  # nothing to grade: still blank
    text = feedback_lines(out, "reference")
    assert f"Graded by your TA: {TA_COMMENT}" in text
    assert text.count("to be graded by your TA") == 2 + 2
    assert TA_COMMENT in feedback_lines(out, "Faces-PyTorch/reference")
