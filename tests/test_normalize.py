"""The notebook that is graded is the student's notebook (grading/instructor/intake/normalize.py).

Every release cell appears once, in the release's order; each cell the student added appears once, where
they put it; the answers are theirs; nothing else of theirs (nbgrader metadata, outputs) is kept, and an
edit of the nbgrader metadata is told to the TA. Checked on the whole rebuilt notebook, for notebooks saved
by Jupyter, JupyterLab and Colab, with the student's cells at the top, in the middle and at the end.
"""

import collections
import copy
import json

import nbformat
import pytest
from corpus import notebooks

from grading.instructor.intake.normalize import rebuild
from grading.kit import NOTEBOOK
from grading.ta.examples import OWN_CELLS, answered_notebook, colab_saved, grade_id, with_own_cells

RELEASE = nbformat.read(NOTEBOOK, as_version=4)
OWN = [source for _, source in OWN_CELLS.values()]
PLACES = {"top": ("top",), "middle": ("after_setup", "after_test_discriminator"), "end": ("end",),
          "everywhere": tuple(OWN_CELLS), "none": ()}  # fmt: skip


def headings(cells):
    return [line for cell in cells if cell.cell_type == "markdown" for line in cell.source.splitlines()
            if line.startswith("#")]  # fmt: skip


def saved_by_jupyter(notebook):
    """Classic Jupyter / Notebook 7: nbformat 4.5 cell ids, outputs, `collapsed`/`scrolled`, `trusted`."""
    notebook = copy.deepcopy(notebook)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.metadata.update(collapsed=False, scrolled=True, trusted=True)
            cell.execution_count = number + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output of cell {number}\n")]
    return nbformat.writes(notebook).encode()


def saved_by_jupyterlab(notebook):
    """JupyterLab: `jupyter` and `execution` cell metadata, tags, its own notebook metadata."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata["toc-autonumbering"] = False
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                                   "version_minor": 0}}  # fmt: skip
    for cell in notebook.cells:
        cell.metadata["tags"] = []
        cell.metadata["jupyter"] = {"source_hidden": False, "outputs_hidden": False}
        if cell.cell_type == "code":
            cell.metadata["execution"] = {"iopub.execute_input": "2026-11-30T21:04:05.123Z",
                                          "shell.execute_reply": "2026-11-30T21:04:06.456Z"}  # fmt: skip
    return nbformat.writes(notebook).encode()


def saved_by_colab(notebook):
    return nbformat.writes(colab_saved(notebook)).encode()


SAVERS = {"jupyter": saved_by_jupyter, "jupyterlab": saved_by_jupyterlab, "colab": saved_by_colab}


def shape(cells):
    return [(cell.cell_type, cell.source) for cell in cells]


def test_colab_saved_looks_like_colab():
    """The Colab saver of the tests writes what Colab writes: nbformat 4.0 (no cell `id` field; Colab's ids
    in cell metadata), `colab` and widget state in the notebook metadata, output ids."""
    saved = json.loads(saved_by_colab(answered_notebook()))
    assert saved["nbformat_minor"] == 0 and "colab" in saved["metadata"]
    assert saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert all("id" not in cell and cell["metadata"]["id"] for cell in saved["cells"])
    code = [cell for cell in saved["cells"] if cell["cell_type"] == "code"]
    assert all(cell["metadata"]["outputId"] for cell in code)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for c in code for o in c["outputs"])


def test_the_release_headings_are_unique():
    """The checks below count headings: each must be unique in the release itself."""
    assert len(headings(RELEASE.cells)) > 30
    assert max(collections.Counter(headings(RELEASE.cells)).values()) == 1


@pytest.mark.parametrize("tool", SAVERS)
@pytest.mark.parametrize("where", ["top", "middle", "end", "everywhere", "none"])
def test_rebuilt_notebook_is_the_students_notebook(tool, where):
    student = with_own_cells(answered_notebook(), PLACES[where])
    own = len(student.cells) - len(RELEASE.cells)
    rebuilt, notes = rebuild(SAVERS[tool](student))
    assert notes == []
    assert len(rebuilt.cells) == len(RELEASE.cells) + own
    assert shape(rebuilt.cells) == shape(student.cells)  # the whole notebook: every cell once, in its place
    counts = collections.Counter(headings(rebuilt.cells))
    assert all(counts[heading] == 1 for heading in headings(RELEASE.cells))
    sources = collections.Counter(cell.source for cell in rebuilt.cells)
    assert all(sources[OWN_CELLS[place][1]] == (place in PLACES[where]) for place in OWN_CELLS)
    # The release's cells carry the release's metadata; the student's cells none; no outputs at all.
    release_cells = [cell for cell in rebuilt.cells if cell.source not in set(OWN)]
    assert [cell.metadata for cell in release_cells] == [cell.metadata for cell in RELEASE.cells]
    assert all(not cell.get("outputs") for cell in rebuilt.cells)
    own_cells = [cell for cell in rebuilt.cells if cell.source in set(OWN)]
    assert len(own_cells) == own and all(cell.metadata == {} for cell in own_cells)


def test_a_cell_at_the_top_runs_once_before_the_title():
    rebuilt, _ = rebuild(saved_by_colab(with_own_cells(answered_notebook(), ("top",))))
    assert [cell.source for cell in rebuilt.cells].count(OWN_CELLS["top"][1]) == 1
    assert rebuilt.cells[0].source == OWN_CELLS["top"][1] and rebuilt.cells[1].source == RELEASE.cells[0].source


def test_the_answers_are_the_students():
    answered = answered_notebook()
    rebuilt, _ = rebuild(saved_by_colab(with_own_cells(answered)))
    answers = {grade_id(c): c.source for c in answered.cells if c.metadata.get("nbgrader", {}).get("solution")}
    assert len(answers) == 5
    assert {grade_id(c): c.source for c in rebuilt.cells if grade_id(c) in answers} == answers


def test_messy_notebook_keeps_its_own_cells_once_and_restores_the_release():
    """Deleted, edited, pasted and moved cells (tests/corpus/notebooks.py messy): the release's cells once in
    order, the two cells of the student's own once each, after the cell they followed."""
    rebuilt, notes = rebuild(nbformat.writes(notebooks.messy()).encode())
    assert notes == []
    sources = [cell.source for cell in rebuilt.cells]
    assert len(sources) == len(RELEASE.cells) + 2
    scratch = sources.index("D_try = discriminator()\nprint(D_try)")
    assert grade_id(rebuilt.cells[scratch - 1]) == "test_discriminator"
    assert sources[-1] == "## my answers (moved here)"
    release_only = [cell for cell in rebuilt.cells if cell.source not in (sources[scratch], sources[-1])]
    assert [grade_id(c) for c in release_only] == [grade_id(c) for c in RELEASE.cells]


def test_a_written_reflection_replaces_its_stub_in_place():
    """The optional Going further reflections are plain markdown cells a student writes in: their text, once."""
    student = answered_notebook()
    reflection = next(cell for cell in student.cells if "going_further_reflection" in cell.metadata)
    index = student.cells.index(reflection)
    reflection.source = "**Your answer (optional, not graded):**\n\nSmoothing kept D(x) near 0.8."
    for tool, saver in SAVERS.items():
        rebuilt, notes = rebuild(saver(student))
        assert notes == [] and len(rebuilt.cells) == len(RELEASE.cells), tool
        assert rebuilt.cells[index].source == reflection.source, tool


# -- nbformat 3 --------------------------------------------------------------------------------------


def test_an_nbformat_3_notebook_is_upgraded_and_its_answers_kept():
    answered = answered_notebook()
    old = nbformat.writes(nbformat.convert(with_own_cells(answered), 3))
    assert '"worksheets"' in old and '"cells"' not in old.split('"worksheets"')[0]
    rebuilt, notes = rebuild(old.encode())
    assert notes == []
    assert len(rebuilt.cells) == len(RELEASE.cells) + len(OWN)
    assert shape(rebuilt.cells) == shape(with_own_cells(answered).cells)


def test_an_unreadable_notebook_is_replaced_by_the_release():
    rebuilt, notes = rebuild(b"{not json")
    assert shape(rebuilt.cells) == shape(RELEASE.cells)
    assert notes == [
        "GANs-PyTorch.ipynb is not a readable notebook (not JSON: JSONDecodeError): "
        "graded the release notebook instead (answers lost)"
    ]


# -- edited nbgrader metadata ------------------------------------------------------------------------


def edit_nbgrader(notebook, edits):
    """`notebook` with {grade_id: {key: value (None: removed)}} applied to the cells' nbgrader metadata."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        for key, value in edits.get(grade_id(cell), {}).items():
            if value is None:
                cell.metadata["nbgrader"].pop(key, None)
            else:
                cell.metadata["nbgrader"][key] = value
    return notebook


@pytest.mark.parametrize("tool", SAVERS)
def test_saving_is_not_tampering(tool):
    for notebook in (answered_notebook(), with_own_cells(answered_notebook()), RELEASE):
        assert rebuild(SAVERS[tool](notebook))[1] == []


@pytest.mark.parametrize("tool", SAVERS)
def test_edited_nbgrader_metadata_is_told_and_the_releases_is_used(tool):
    student = edit_nbgrader(answered_notebook(), {
        "test_sample_noise": {"grade": False},
        "test_generator": {"grade_id": "test_generator_mine"},
        "q4_answer": {"solution": False, "locked": True},
        "q5_justification": {"points": 5},
        "test_inline_q6": {"points": None},
    })  # fmt: skip
    rebuilt, notes = rebuild(SAVERS[tool](with_own_cells(student)))
    assert notes == [
        "nbgrader metadata edited in 5 cells (test_sample_noise: grade true -> false, "
        "test_generator: grade_id -> test_generator_mine, q4_answer: locked false -> true and solution true -> "
        "false, q5_justification: points 1 -> 5, test_inline_q6: points 1 -> none): the release's was used"
    ]
    # Scored as the release says: its metadata on every cell, the renamed test cell once, in its place.
    assert len(rebuilt.cells) == len(RELEASE.cells) + len(OWN)
    release_cells = [cell for cell in rebuilt.cells if cell.source not in set(OWN)]
    assert [cell.metadata for cell in release_cells] == [cell.metadata for cell in RELEASE.cells]
    assert {grade_id(c): c.source for c in rebuilt.cells}["q4_answer"] == next(
        c.source for c in answered_notebook().cells if grade_id(c) == "q4_answer"
    )


def test_removed_nbgrader_metadata_and_graded_cells_of_ones_own_are_told():
    student = answered_notebook()
    for cell in student.cells:
        if grade_id(cell) == "test_discriminator_loss":
            del cell.metadata["nbgrader"]
    forged = nbformat.v4.new_code_cell('print("All tests passed!")')
    forged.metadata["nbgrader"] = {"grade": True, "grade_id": "my_bonus", "points": 10, "solution": False,
                                   "locked": True, "schema_version": 3}  # fmt: skip
    student.cells.append(forged)
    rebuilt, notes = rebuild(saved_by_jupyter(student))
    assert notes == [
        "nbgrader metadata edited in 2 cells (test_discriminator_loss: nbgrader metadata removed, "
        "my_bonus: a cell not in the release): the release's was used"
    ]
    assert len(rebuilt.cells) == len(RELEASE.cells) + 1
    assert rebuilt.cells[-1].source == forged.source and rebuilt.cells[-1].metadata == {}
    assert [grade_id(c) for c in rebuilt.cells[:-1]] == [grade_id(c) for c in RELEASE.cells]


@pytest.mark.parametrize("tool", ["jupyter", "jupyterlab"])
def test_a_renamed_answer_cell_keeps_its_answer_where_the_cell_id_survives(tool):
    """Jupyter and JupyterLab keep cell ids: an answer cell whose grade id was renamed is still that cell."""
    answered = answered_notebook()
    student = edit_nbgrader(answered, {"q6_answer": {"grade_id": "my_q6"}})
    rebuilt, notes = rebuild(SAVERS[tool](student))
    assert notes == ["nbgrader metadata edited in 1 cell (q6_answer: grade_id -> my_q6): the release's was used"]
    assert shape(rebuilt.cells) == shape(answered.cells)
    assert [cell.metadata for cell in rebuilt.cells] == [cell.metadata for cell in RELEASE.cells]


def test_a_renamed_answer_cell_saved_by_colab_is_the_students_own_cell():
    """Colab drops the release's cell ids: the renamed answer cell is kept as the student's own (it still
    runs, in its place, before the release's empty answer cell) and the TA is told."""
    answered = answered_notebook()
    student = edit_nbgrader(answered, {"q6_answer": {"grade_id": "my_q6"}})
    rebuilt, notes = rebuild(saved_by_colab(student))
    assert notes == [
        "the answer cell q6_answer was missing: restored empty",
        "nbgrader metadata edited in 1 cell (my_q6: a cell not in the release): the release's was used",
    ]
    ids = [grade_id(cell) for cell in rebuilt.cells]
    assert len(ids) == len(RELEASE.cells) + 1 and ids[ids.index("q6_answer") - 1] is None
    answer = next(c.source for c in answered.cells if grade_id(c) == "q6_answer")
    assert rebuilt.cells[ids.index("q6_answer") - 1].source == answer


def test_an_nbformat_3_notebook_nbformat_cannot_upgrade_is_unreadable():
    rebuilt, notes = rebuild(json.dumps({"nbformat": 3, "worksheets": [{"cells": [{"cell_type": "code"}]}]}).encode())
    assert shape(rebuilt.cells) == shape(RELEASE.cells)
    assert len(notes) == 1 and notes[0].startswith("GANs-PyTorch.ipynb is not a readable notebook (nbformat 3")


def test_one_sentence_per_cause():
    """Missing answer cells and answers written several times: one note each, naming every cell."""
    student = answered_notebook()
    student.cells = [cell for cell in student.cells if grade_id(cell) not in ("q4_answer", "q6_justification")]
    for gid, text in (("q5_answer", "q5_reaches_optimum = True\n"), ("q6_answer", "q6_good_sign = True\n")):
        copy_ = copy.deepcopy(next(c for c in student.cells if grade_id(c) == gid))
        copy_.source, copy_["id"] = text, f"pasted-{gid}"  # a pasted cell gets a new id in Jupyter
        student.cells.append(copy_)
    rebuilt, notes = rebuild(saved_by_jupyter(student))
    assert notes == [
        "several cells claim to be the same answer cell (q5_answer: 2, q6_answer: 2): graded the first of each",
        "the answer cells q4_answer and q6_justification were missing: restored empty",
    ]
    written = {grade_id(c): c.source for c in answered_notebook().cells}
    assert {grade_id(c): c.source for c in rebuilt.cells}["q5_answer"] == written["q5_answer"]
    assert len(rebuilt.cells) == len(RELEASE.cells)


def edited_prose(notebook, edits):
    """`notebook` with {start of a release prose cell: function of its text} applied."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        for start, edit in edits.items():
            if cell.cell_type == "markdown" and cell.source.startswith(start):
                cell.source = edit(cell.source)
    return notebook


@pytest.mark.parametrize("tool", SAVERS)
def test_an_edited_prose_cell_is_the_students_in_its_place(tool):
    """A note typed into a prose cell, followed by a cell of the student's own: the prose cell once, in its
    place, with the student's text; their own cell after it."""
    student = edited_prose(answered_notebook(), {"## Dataset": lambda text: text + "\n\nNote to self: 50k train."})
    dataset = next(i for i, c in enumerate(student.cells) if c.source.startswith("## Dataset"))
    student.cells.insert(dataset + 1, nbformat.v4.new_code_cell("print(NUM_TRAIN)"))
    rebuilt, notes = rebuild(SAVERS[tool](student))
    assert notes == [] and shape(rebuilt.cells) == shape(student.cells)
    assert collections.Counter(headings(rebuilt.cells))["## Dataset"] == 1


@pytest.mark.parametrize("tool", SAVERS)
def test_a_notebook_of_an_older_release_has_each_prose_cell_once(tool):
    """Prose that changed since the student's copy was released (typos fixed, a sentence added): every
    release cell once, no prose twice."""
    student = edited_prose(answered_notebook(), {
        "## Setup": lambda text: text.replace("before anything else", "before anything"),
        "## How you will be graded": lambda text: text.replace("You submit two files", "You submit 2 files"),
        "## Random Noise": lambda text: text + "\n\nThis sentence was removed in the new release.",
        "### Reflection 2": lambda text: text.replace("Reflection 2", "Reflection two"),
    })  # fmt: skip
    rebuilt, notes = rebuild(SAVERS[tool](student))
    assert notes == [] and len(rebuilt.cells) == len(RELEASE.cells)
    assert shape(rebuilt.cells) == shape(student.cells)


@pytest.mark.parametrize("tool", SAVERS)
def test_an_edited_settings_cell_is_the_students_in_its_place(tool):
    """The unlocked cells students are told to edit (DRIVE_FOLDER, PREVIEW, a Going further variant): the
    student's version once, in the release cell's place, not beside a second copy of the release's."""
    student = answered_notebook()
    edits = {"DRIVE_FOLDER = None": 'DRIVE_FOLDER = "MyDrive/hw3"', "PREVIEW = True": "PREVIEW = False"}
    for cell in student.cells:
        for old, new in edits.items():
            if cell.cell_type == "code" and "nbgrader" not in cell.metadata and old in cell.source:
                cell.source = cell.source.replace(old, new)
    variant = next(c for c in student.cells if c.cell_type == "code" and "nbgrader" not in c.metadata
                   and "variant" in c.source.lower())  # fmt: skip
    variant.source = variant.source.replace("\n# ", "\n", 1)  # a line uncommented, as the cell invites
    assert (
        sum(
            a.source != b.source
            for a, b in zip(student.cells, RELEASE.cells, strict=True)
            if "nbgrader" not in b.metadata
        )
        == 3
    )
    rebuilt, notes = rebuild(SAVERS[tool](student))
    assert notes == [] and len(rebuilt.cells) == len(RELEASE.cells)
    assert [c.source for c in rebuilt.cells] == [c.source for c in student.cells]
