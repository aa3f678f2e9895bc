"""Rebuild a submitted notebook from the release, keeping only what the student may change.

Whatever a student did to their notebook (deleted, emptied, reordered or duplicated cells; copied a
test cell with its nbgrader metadata; renamed a grade id; edited metadata; saved it from Colab;
broke the JSON), the notebook that nbgrader grades has exactly the release's cells, in order:

- every read-only cell (prose, setup, tests, training) comes from the release;
- each answer cell (nbgrader "solution" cells: q4_answer, q5_justification...) gets the source the
  student wrote in the cell of the same grade id and type (the first one that differs from the
  stub when there are several, with a note);
- the student's own extra cells (no known grade id) are kept as plain cells, without nbgrader
  metadata, after the release cell they followed;
- no output, metadata or attachment of the student's is kept (nbgrader clears outputs anyway).

A notebook that cannot be read at all is replaced by the release: the gan.py items and the grader's
training run do not depend on it, only the answers are lost (with a reason).
"""

import copy
import json

import nbformat

from grading.kit import NOTEBOOK

MAX_CELLS = 2000  # a notebook with more cells than this keeps only its first MAX_CELLS


def grade_id(cell):
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    value = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return value if isinstance(value, str) else None


def source_text(cell):
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def read_cells(data):
    """The list of raw cells of a submitted notebook (bytes), or raise ValueError with a reason."""
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"not a readable notebook (not JSON: {type(error).__name__})") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a readable notebook (no list of cells)")
    return [cell for cell in cells[:MAX_CELLS] if isinstance(cell, dict)]


def rebuild(data, release=None):
    """(notebook, notes): the notebook nbgrader should grade, built from submission bytes `data`."""
    release = copy.deepcopy(release or nbformat.read(NOTEBOOK, as_version=4))
    try:
        cells = read_cells(data)
    except ValueError as error:
        return release, [f"GANs-PyTorch.ipynb is {error}: graded the release notebook instead (answers lost)"]
    answer_ids = {
        grade_id(cell): cell
        for cell in release.cells
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id(cell)
    }
    known = {grade_id(cell) for cell in release.cells if grade_id(cell)}
    notes, answers = [], {}
    extra_after = {}  # release grade id (or None: the start) -> the student's extra cells after it
    anchor = None
    for cell in cells:
        gid = grade_id(cell)
        if gid in answer_ids and cell.get("cell_type") == answer_ids[gid].cell_type:
            answers.setdefault(gid, []).append(source_text(cell))
            anchor = gid
        elif gid in known:
            anchor = gid  # a read-only cell (or a copy of one): the release's version is used
        elif cell.get("cell_type") in ("code", "markdown", "raw"):
            extra_after.setdefault(anchor, []).append(cell)
    for gid, sources in answers.items():
        stub = answer_ids[gid].source
        written = [s for s in sources if s.strip() != stub.strip()]
        answer_ids[gid].source = (written or sources)[0]
        if len(written) > 1:
            notes.append(f"{len(written)} cells claim to be {gid}: graded the first")
    for gid in answer_ids:
        if gid not in answers:
            notes.append(f"the answer cell {gid} was missing: restored empty")
    rebuilt = []
    for extra in extra_after.get(None, []):
        rebuilt.append(plain_cell(extra))
    for cell in release.cells:
        rebuilt.append(cell)
        for extra in extra_after.get(grade_id(cell), []):
            rebuilt.append(plain_cell(extra))
    release.cells = rebuilt
    return release, notes


def plain_cell(cell):
    """A student's extra cell as a plain notebook cell: its type and source, nothing else."""
    source = source_text(cell)
    kind = cell.get("cell_type")
    if kind == "code":
        return nbformat.v4.new_code_cell(source)
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    return nbformat.v4.new_raw_cell(source)
