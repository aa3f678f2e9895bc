"""Feedback a student can act on: the summary of every graded item, hand-graded items, and the manual round trip.

The pages are those of the end-to-end batch (tests/conftest.py, `batch`): the reference and a submission with
one bug (saved by Colab with the cells a Colab student adds), graded through the real command (smoke budget);
the whole autograded notebook and the whole feedback page of both are the student's notebook (every release
cell once, each of their own once); a TA then grades a justification by hand in the
gradebook, as formgrader would, and the command runs again: that student's feedback is made again and shows
the TA's score and comment. Last, the kit's grading files change and two students are graded again: the reference's
unchanged gan.py is not trained again (its kept trainings are judged).
"""

import collections
import re
import shutil
from html.parser import HTMLParser

import nbformat
import pytest
from corpus import verify
from e2e import BUGGY, HAND_GRADED, TA_COMMENT, batch_limits

from grading.course.items import FUNCTION_ITEMS, PENDING, TITLES
from grading.instructor import autograde
from grading.instructor.settings import Settings
from grading.kit import NOTEBOOK, SOURCE_NOTEBOOK
from grading.ta.examples import OWN_CELLS
from nndl2.agent import export

AUTOGRADED = [grade_id for grade_id, _, auto in autograde.graded_items() if auto]


class Summary(HTMLParser):
    """The rows of the feedback's summary table: [(title, link, score text, message)]."""

    def __init__(self, html):
        super().__init__()
        self.rows, self.row, self.cell, self.inside = [], None, None, False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "summary":
            self.inside = True
        elif self.inside and tag == "tr":
            self.row = {"class": attrs.get("class"), "cells": [], "link": None}
        elif self.inside and tag == "td":
            self.cell = ""
        elif self.inside and tag == "a" and self.row is not None:
            self.row["link"] = attrs.get("href")

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag == "td" and self.row is not None:
            self.row["cells"].append(" ".join(self.cell.split()))
            self.cell = None
        elif self.inside and tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


class Headings(HTMLParser):
    """The text of every heading (h1-h6) of a page, without nbconvert's anchor links."""

    def __init__(self, html):
        super().__init__()
        self.texts, self.text, self.anchor = [], None, False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h[1-6]", tag):
            self.text = ""
        elif tag == "a" and "anchor-link" in (dict(attrs).get("class") or ""):
            self.anchor = True

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self.text is not None:
            self.texts.append(" ".join(self.text.split()))
            self.text = None
        elif tag == "a":
            self.anchor = False

    def handle_data(self, data):
        if self.text is not None and not self.anchor:
            self.text += data


def markdown_headings(cells):
    return [line for cell in cells if cell.cell_type == "markdown" for line in cell.source.splitlines()
            if line.startswith("#")]  # fmt: skip


def summary(html):
    """{title: {score, why, link, class}} of a feedback page's summary table."""
    rows = Summary(html).rows
    return {row["cells"][0]: {"score": row["cells"][1], "why": row["cells"][2], "link": row["link"],
                              "class": row["class"]} for row in rows}  # fmt: skip


def test_every_graded_cell_has_a_title_and_its_name_is_in_the_notebook():
    cells = nbformat.read(SOURCE_NOTEBOOK, 4).cells
    graded = [c.metadata["nbgrader"]["grade_id"] for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert sorted(graded) == sorted(TITLES)
    text = "\n".join(cell.source for cell in cells)
    for grade_id, title in TITLES.items():
        name = title.split(":")[0]  # "Inline Question 1", or the function's name
        assert name in text, (grade_id, name)


def test_the_kernel_exports_exactly_the_graded_functions_in_notebook_order():
    # nndl2/agent/export.py runs in the sandbox and cannot import grading/: it, the judge and the
    # corpus's oracle (tests/corpus/verify.py) all read the one table of nndl2/items.py.
    assert export.FUNCTIONS == tuple(FUNCTION_ITEMS.values()) == verify.FUNCTIONS


@pytest.fixture(scope="module")
def regraded(batch, mnist_real, tmp_path_factory):
    """The hand-graded student and the reference graded again, in a copy of the batch's results (its kept trainings
    included), after a (simulated) change of the kit's grading files."""
    tmp = tmp_path_factory.mktemp("regraded")
    out, submissions = tmp / "out", tmp / "submissions"
    shutil.copytree(batch["out"], out, ignore=shutil.ignore_patterns("work"), symlinks=True)
    for student in (HAND_GRADED, "reference"):
        shutil.copytree(batch["submissions"] / student, submissions / student)
    changed = tmp / "a-grading-file.txt"
    changed.write_text("a new threshold, say")
    log = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(autograde, "GRADING_FILES", (*autograde.GRADING_FILES, changed))
        settings = Settings(budget="smoke", mnist_root=mnist_real, jobs=2, threads=1, limits=batch_limits())
        results, _ = autograde.autograde(submissions, out, settings, log=log.append)
    return {"out": out, "log": log, "results": {r["student"]: r for r in results}}


@pytest.mark.slow
def test_summary_names_every_item_with_its_score_message_and_link(batch):
    rows = summary(batch["pages"]["reference"])
    assert list(rows) == list(TITLES.values())  # every item, in notebook order, by its title
    for grade_id, title in TITLES.items():
        assert rows[title]["link"] == f"#{grade_id}"
    assert rows["sample_noise"]["score"] == "1.0 / 1.0"
    assert rows["sample_noise"]["why"].startswith("sample_noise(") and rows["sample_noise"]["class"] == "passed"
    buggy = summary(batch["pages"][BUGGY])
    assert buggy["discriminator_loss"]["score"] == "0.0 / 1.0" and buggy["discriminator_loss"]["class"] == "missed"
    # BUGGY detaches the fake logits: the right value, no gradient for the fake term.
    assert buggy["discriminator_loss"]["why"] == (
        "discriminator_loss: no gradient reaches logits_fake (is it detached, or computed outside torch?)."
    )
    assert buggy["generator_loss"]["class"] == "passed"


@pytest.mark.slow
def test_hand_graded_items_are_pending_until_a_ta_grades_them(batch):
    for student in ("reference", HAND_GRADED):
        pending = summary(batch["pages"][student])[TITLES["q5_justification"]]
        assert pending["why"] == PENDING and pending["score"].startswith("–") and pending["class"] == "pending"
    after = summary(batch["again"]["page"])  # the same command, run again after the TA graded it
    graded_now = after[TITLES["q5_justification"]]
    assert graded_now["score"] == "1.0 / 1.0" and graded_now["class"] == "passed"
    assert graded_now["why"] == f"Graded by your TA: {TA_COMMENT}"
    assert after[TITLES["q6_justification"]]["why"] == PENDING  # the other one still waits


@pytest.mark.slow
@pytest.mark.parametrize("student", ["reference", BUGGY])
def test_the_autograded_notebook_and_the_feedback_page_are_the_students_notebook(batch, student):
    """The whole notebook and the whole page: every release cell and heading once, each own cell once."""
    own = {"reference": 0, BUGGY: len(OWN_CELLS)}[student]
    release = nbformat.read(NOTEBOOK, as_version=4)
    path = batch["out"] / "course" / "autograded" / student / "GANs-PyTorch" / "GANs-PyTorch.ipynb"
    notebook = nbformat.read(path, as_version=4)
    assert len(notebook.cells) == len(release.cells) + own
    headings = collections.Counter(markdown_headings(notebook.cells))
    assert all(headings[heading] == 1 for heading in markdown_headings(release.cells))
    sources = [cell.source for cell in notebook.cells]
    assert all(sources.count(source) == (1 if own else 0) for _, source in OWN_CELLS.values())
    printed = [
        o for c in notebook.cells for o in c.get("outputs", []) if "my own cell, after Setup" in o.get("text", "")
    ]
    assert len(printed) == (1 if own else 0)  # the student's own code cell ran, once
    page = collections.Counter(Headings((batch["out"] / "feedback" / f"{student}.html").read_text()).texts)
    for heading in markdown_headings(release.cells):
        assert page[heading.lstrip("#").strip()] == 1, heading


@pytest.mark.slow
def test_feedback_shows_no_grader_path(batch):
    html = (batch["out"] / "feedback" / "reference.html").read_text()
    assert str(batch["out"]) not in html and "Working in /assignment" in html
    assert not re.search(r"/root/|/home/\w", html)


@pytest.mark.slow
def test_a_change_to_the_grading_files_regrades_everyone_and_keeps_hand_grades(batch, regraded):
    assert any("grading files changed" in str(m) for m in regraded["log"])
    assert not any("unchanged, reusing the earlier grading" in str(m) for m in regraded["log"])  # each graded again
    for student, result in regraded["results"].items():  # graded as before
        assert {g: result["scores"][g] for g in AUTOGRADED} == {
            g: batch["results"][student]["scores"][g] for g in AUTOGRADED
        }, student
    assert regraded["results"][HAND_GRADED]["scores"]["q5_justification"] == 1.0  # the TA's grade survived
    rows = summary((regraded["out"] / "feedback" / f"{HAND_GRADED}.html").read_text())
    assert rows[TITLES["q5_justification"]]["why"] == f"Graded by your TA: {TA_COMMENT}"


@pytest.mark.slow
def test_a_regrade_after_a_grading_file_changed_trains_nothing_and_judges_the_same(batch, regraded):
    """grading/instructor/judging/trained.py through the real command: the reference's gan.py is unchanged, so its
    three GANs are the batch's kept trainings, judged again to the same Inline Questions 1-3 (verdicts and metrics);
    the first grading trained them (tests/test_autograde.py checks it trained and kept them)."""
    first, again = batch["results"]["reference"], regraded["results"]["reference"]
    assert "training" in first["phases"]
    assert again["reused_training"] == ["vanilla", "lsgan", "dcgan"] and "training" not in again["phases"]
    reused = '"reference": gan.py unchanged since it was trained: reusing the trained vanilla, lsgan, dcgan'
    assert any(reused in str(message) for message in regraded["log"])
    quality = [f"test_inline_q{number}" for number in (1, 2, 3)]
    assert {item: again["messages"][item] for item in quality} == {item: first["messages"][item] for item in quality}
    assert again["metrics"] == first["metrics"] and set(again["metrics"]) == set(quality)
