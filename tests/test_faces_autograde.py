"""Part 2 wired into the instructor's autograde: with FACES_POINTS above 0, faces.py is found, exported in the
sandbox and judged, its items are columns of grades.csv and lines of the feedback; with 0 (the default) the
autograde is Part 1's alone."""

import csv
import html
import re
import shutil

import pytest

from grading.course import part2
from grading.instructor import autograde, gradebook
from grading.instructor.gradebook import url as gradebook_url
from grading.instructor.submissions import collect
from grading.kit import FACES_NOTEBOOK, SOLUTION_FACES, SOLUTION_GAN
from grading.ta.examples import answered_notebook, write_submission
from tests.faces_mutants import mutant_text

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
    }
    assert ada.problems == [] and bob.problems == [] and "faces" not in bob.files  # no faces.py is no problem
    assert {kind: path.name for kind, path in eve.files.items()} == {"gan": "gan (2).py", "faces": "faces.py"}
    assert eve.problems == [
        '2 candidates for faces.py: graded "faces.py" (the exact name); not graded: "faces-1.py"',
        "missing GANs-PyTorch.ipynb",
    ]
    ada, bob, eve = collect(tmp_path)  # the default: Part 1's files only, the others as before
    assert "faces" not in ada.files and "faces" not in eve.files
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
    clock = autograde.TimeBudget(900).start()
    assert clock.faces() == 45.0 and clock.functions() == 90.0
    clock.started -= 850  # 50 s left: the faces export may not eat the reserves of the stages after it
    assert clock.faces() == autograde.Clock.MIN_LIMIT


def test_a_faces_py_that_hangs_costs_its_own_limit_and_says_where(tmp_path, faces_points):
    """In the sandbox: stopped at the faces export's limit (5% of a 200 s budget: 10 s), every item lost for that."""
    grader = autograde.Grader(tmp_path / "out", time_budget=autograde.TimeBudget(200), log=lambda *args: None)
    staged = tmp_path / "faces.py"
    staged.write_text("import time\n\nwhile True:\n    time.sleep(0.1)\n")
    run = autograde.Run(None, tmp_path / "work", grader.time_budget.start(), staged={"faces": staged})
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
# End to end: three submissions at the smoke budget, in the sandbox
# ---------------------------------------------------------------------------

MUTANT = "real_loss_no_smoothing"


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_real):
    """reference (Part 1 and faces.py), a faces.py mutant alone, Part 1's notebook alone: graded with points 1."""
    tmp = tmp_path_factory.mktemp("faces-autograde")
    submissions, out = tmp / "submissions", tmp / "out"
    answered = answered_notebook()
    reference = write_submission(submissions / "reference", answered, SOLUTION_GAN.read_text())
    shutil.copy(SOLUTION_FACES, reference / "faces.py")
    shutil.copy(FACES_NOTEBOOK, reference / "Faces-PyTorch.ipynb")
    (submissions / "mutant").mkdir()
    (submissions / "mutant" / "faces.py").write_text(mutant_text(MUTANT))
    (submissions / "nofaces").mkdir()
    shutil.copy(reference / "GANs-PyTorch.ipynb", submissions / "nofaces")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(part2, "FACES_POINTS", 1)
        results, items = autograde.autograde(
            submissions, out, budget="smoke", mnist_root=mnist_real, log=lambda *args: None
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
    reference, mutant, nofaces = rows["reference"], rows["mutant"], rows["nofaces"]
    assert [reference[c] for c in FUNCTIONS] == ["1"] * 8
    assert [reference[c] for c in BY_HAND] == [""] * 4  # to be graded by hand
    item = next(i for i, f in part2.FUNCTION_ITEMS.items() if f == "real_loss")
    assert {c: mutant[c] for c in FUNCTIONS if mutant[c] != "1"} == {item: "0"}
    assert [nofaces[c] for c in FUNCTIONS] == ["0"] * 8 and [nofaces[c] for c in BY_HAND] == [""] * 4
    number = header.index("faces_get_data_loader") - header.index(part1[0]) + 1
    assert f"no faces.py: items {number}-{number + 7} scored 0" in nofaces["reason"]
    assert "faces" not in reference["reason"] and "faces" not in mutant["reason"].replace("missing", "")
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
    mutant = feedback_lines(out, "mutant")
    message = results["mutant"]["messages"]["faces_real_loss"]
    assert message.startswith("real_loss(D_out, smooth=True) gave") and message in mutant
    assert "Faces-PyTorch: 7.0 / 12.0 points" in mutant
    assert "no faces.py." in feedback_lines(out, "nofaces")


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
