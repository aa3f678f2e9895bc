"""Rebuild a submitted notebook from the release, keeping only what the student may change.

Whatever a student did to their notebook (deleted, emptied, reordered or duplicated cells; copied a
test cell with its nbgrader metadata; renamed a grade id; edited metadata; saved it from Jupyter,
JupyterLab or Colab, or in the old nbformat 3 layout; broke the JSON), the notebook that nbgrader grades
is the student's notebook around the release's cells:

- every release cell appears once, in the release's order; code cells (setup, tests, training) are
  the release's, and every cell has the release's nbgrader metadata;
- each answer cell (nbgrader "solution" cells: q4_answer, q5_justification...) gets the source the
  student wrote in the cell of the same grade id and type (the first one that differs from the stub
  when there are several, with a note); so does each optional Going further reflection (cells marked
  with going_further.MARKER), and each prose (markdown) cell the student edited: their text in its place;
- each cell the student added appears once, as a plain cell without nbgrader metadata, right after the
  release cell it followed in their notebook (or at the top). A student's cell is one of the release's
  when it has a release cell's grade id, or, without one, the same type and text as a release cell not
  yet taken (whitespace aside; cell ids do not survive Colab); a markdown cell between the same two
  release cells with its id or much the same text as a release prose cell is an edit of it (a note
  typed into it, or the prose of an older release);
- no output, metadata or attachment of the student's is kept (nbgrader clears outputs anyway), but with
  `keep_outputs` (Part 2's notebook, which the grader does not run): then the outputs of each code cell the
  student ran, but the graded cells' (their tests), stay on its cell, rebuilt inert (sanitize_notebook.py).
  Part 2's answer cells are found by their marker (part2.MARKER, its value the grade id) as well.

Edited nbgrader metadata (grade, points, grade id, solution/locked flags, metadata removed, or put on a
cell of the student's own) changes nothing in the grade, since the release's metadata is used, and is
told in one note for the TA. Metadata that Jupyter, JupyterLab or Colab add when saving is not nbgrader's.

A notebook that cannot be read at all is replaced by the release: the gan.py items and the grader's
training run do not depend on it, only the answers are lost (with a reason).
"""

import copy
import difflib
import json

import nbformat

from grading.course import part2
from grading.course.going_further import MARKER
from grading.course.preprocessors.sanitize_notebook import clean_output
from grading.kit import NOTEBOOK

MAX_CELLS = 2000  # a notebook with more cells than this keeps only its first MAX_CELLS
MAX_OUTPUTS = 200  # outputs kept per cell (keep_outputs); their bytes are limited at autograde (LimitedExecute)
NBGRADER_FLAGS = ("grade_id", "grade", "points", "solution", "locked", "task")  # what decides a score
V3_CELLS = ("code", "markdown", "raw", "heading")  # the cell types of nbformat 3
MAX_TOLD = 8
EDITED_SIMILARITY = 0.6  # a student's prose cell this similar to a release prose cell is an edit of it
MAX_COMPARED, MAX_COMPARISONS = (
    4000,
    400,
)  # characters compared per cell, comparisons per notebook  # edited cells named in the note; the others are counted


def nbgrader_of(cell):
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else None


def grade_id(cell):
    value = (nbgrader_of(cell) or {}).get("grade_id")
    return value if isinstance(value, str) else None


def reflection_of(cell):
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    value = meta.get(MARKER) if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def part2_item(cell):
    """The grade id a Part 2 cell is marked with (part2.MARKER), or None."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    value = meta.get(part2.MARKER) if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def outputs_of(cell):
    """The outputs of a student's code cell, rebuilt inert (sanitize_notebook.clean_output); [] if none."""
    outputs = cell.get("outputs")
    if not isinstance(outputs, list):
        return []
    cleaned = (clean_output(output) for output in outputs[:MAX_OUTPUTS] if isinstance(output, dict))
    return [output for output in cleaned if output is not None]


def source_text(cell):
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def text_key(cell):
    """What makes a cell without a grade id the same as a release cell: its type and text, whitespace aside."""
    lines = source_text(cell).strip().splitlines()
    return cell.get("cell_type"), "\n".join(line.rstrip() for line in lines)


def read_cells(data):
    """The list of raw cells of a submitted notebook (bytes), or raise ValueError with a reason."""
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"not a readable notebook (not JSON: {type(error).__name__})") from None
    if isinstance(notebook, dict) and "cells" not in notebook and isinstance(notebook.get("worksheets"), list):
        notebook = upgrade_v3(notebook)
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a readable notebook (no list of cells)")
    return [cell for cell in cells[:MAX_CELLS] if isinstance(cell, dict)]


def upgrade_v3(notebook):
    """A notebook in the nbformat 3 layout (cells under worksheets) in the nbformat 4 layout, by nbformat."""
    notebook = {**notebook, "nbformat": 3, "nbformat_minor": notebook.get("nbformat_minor", 0)}
    notebook["worksheets"] = [ws for ws in notebook["worksheets"] if isinstance(ws, dict)]
    for worksheet in notebook["worksheets"]:
        cells = worksheet.get("cells") if isinstance(worksheet.get("cells"), list) else []
        worksheet["cells"] = [
            cell for cell in cells[:MAX_CELLS] if isinstance(cell, dict) and cell.get("cell_type") in V3_CELLS
        ]
    try:
        return nbformat.convert(nbformat.from_dict(notebook), 4)
    except Exception as error:  # noqa: BLE001 - whatever nbformat cannot upgrade is unreadable
        raise ValueError(
            f"not a readable notebook (nbformat 3 that nbformat cannot upgrade: {type(error).__name__})"
        ) from None


def rebuild(data, release=None, keep_outputs=False, name=NOTEBOOK.name, also=None):
    """(notebook, notes): the notebook nbgrader should grade, built from submission bytes `data` around `release`.

    `release`: nbformat, default Part 1's release (GANs-PyTorch.ipynb); `name`: its file name, for the notes.
    `keep_outputs`: the student's outputs stay on the code cells they ran (not on graded cells). `also`: another
    release the student may have worked from (Part 2's ungraded one): its nbgrader metadata is not told as edited.
    """
    release = copy.deepcopy(release or nbformat.read(NOTEBOOK, as_version=4))
    try:
        cells = read_cells(data)
    except ValueError as error:
        return release, [f"{name} is {error}: graded the release notebook instead (answers lost)"]
    matches, extras = match(release.cells, cells)
    also_cells = {grade_id(c) or part2_item(c): c for c in (also.cells if also else ()) if grade_id(c) or part2_item(c)}
    notes, edited = [], []
    written = {}  # release index of an answer or reflection cell -> the sources the student wrote there
    for cell, index in zip(cells, matches, strict=True):
        if index is None:
            if nbgrader_of(cell):
                edited.append(
                    f"{grade_id(cell)}: a cell not in the release" if grade_id(cell) else "a cell not in the release"
                )
            continue
        ours = release.cells[index]
        if keep_outputs and ours.cell_type == "code" and cell.get("cell_type") == "code" and not ours.get("outputs"):
            if not (nbgrader_of(ours) or {}).get("grade"):
                ours.outputs = outputs_of(cell)
        change = nbgrader_change(ours, cell)
        if change and also and not nbgrader_change(also_cells.get(label(ours, index), {}), cell):
            change = ""  # the metadata of the other release the student had
        if change and f"{label(ours, index)}: {change}" not in edited:
            edited.append(f"{label(ours, index)}: {change}")
        if is_answer(ours) or not nbgrader_of(ours):  # an answer, a reflection or prose: the student's text
            if cell.get("cell_type") == ours.cell_type:
                written.setdefault(index, []).append(source_text(cell))
    claimed = []
    for index, sources in written.items():
        stub = release.cells[index].source
        own = [source for source in sources if source.strip() != stub.strip()]
        release.cells[index].source = (own or sources)[0]
        if len(own) > 1:
            claimed.append(f"{label(release.cells[index], index)}: {len(own)}")
    if claimed:
        notes.append(f"several cells claim to be the same answer cell ({', '.join(claimed)}): graded the first of each")
    missing = [grade_id(cell) for index, cell in enumerate(release.cells) if is_answer(cell) and index not in written]
    if len(missing) == 1:
        notes.append(f"the answer cell {missing[0]} was missing: restored empty")
    elif missing:
        notes.append(f"the answer cells {', '.join(missing[:-1])} and {missing[-1]} were missing: restored empty")
    if edited:
        told = ", ".join(edited[:MAX_TOLD]) + (f" and {len(edited) - MAX_TOLD} more" if len(edited) > MAX_TOLD else "")
        cells_word = "cell" if len(edited) == 1 else "cells"
        notes.append(f"nbgrader metadata edited in {len(edited)} {cells_word} ({told}): the release's was used")
    rebuilt = [plain_cell(extra, keep_outputs) for extra in extras.get(-1, [])]
    for index, cell in enumerate(release.cells):
        rebuilt.append(cell)
        rebuilt.extend(plain_cell(extra, keep_outputs) for extra in extras.get(index, []))
    release.cells = rebuilt
    return release, notes


def match(release_cells, cells):
    """Which release cell each of the student's `cells` is (its index, or None: the student's own), and
    {release index (-1: the top): [the student's own cells right after it, in order]}.

    A cell is the release cell of its grade id; without a known grade id, the reflection cell of its
    marker, the release cell with nbgrader metadata of its cell id (Jupyter keeps ids; a renamed grade id),
    or the first release cell not yet taken with the same type and text (after the last one matched,
    when there is one there). Then a prose cell the student edited is the release prose cell between the
    same two matched cells with its id or much the same text (edit_of). Copies of a taken release cell
    are dropped: the release's is used.
    """
    by_gid = {grade_id(cell): index for index, cell in enumerate(release_cells) if grade_id(cell)}
    by_reflection = {reflection_of(c): i for i, c in enumerate(release_cells) if reflection_of(c) and not grade_id(c)}
    by_part2 = {part2_item(c): i for i, c in enumerate(release_cells) if part2_item(c)}
    by_id = {c.get("id"): i for i, c in enumerate(release_cells) if nbgrader_of(c) and isinstance(c.get("id"), str)}
    by_text = {}
    for index, cell in enumerate(release_cells):
        by_text.setdefault(text_key(cell), []).append(index)
    taken, matches, anchors, anchor = set(), [], [], -1
    for cell in cells:
        gid, index = grade_id(cell), None
        same_id = [by_id.get(value) for value in cell_ids(cell) if by_id.get(value) not in (None, *taken)]
        if gid in by_gid:
            index = by_gid[gid]
        elif reflection_of(cell) in by_reflection and by_reflection[reflection_of(cell)] not in taken:
            index = by_reflection[reflection_of(cell)]
        elif part2_item(cell) in by_part2 and by_part2[part2_item(cell)] not in taken:
            index = by_part2[part2_item(cell)]  # Part 2's answer cells carry no grade id in the ungraded release
        elif same_id and release_cells[same_id[0]].cell_type == cell.get("cell_type"):
            index = same_id[0]  # a graded cell whose grade id was renamed or removed, saved by Jupyter
        else:
            free = [i for i in by_text.get(text_key(cell), []) if i not in taken]
            index = next((i for i in free if i > anchor), free[0]) if free else None
        matches.append(index)
        anchors.append(anchor)
        if index is not None and index not in taken:  # a copy of a cell already met keeps the student's place
            taken.add(index)
            anchor = index
    # The cells students may edit: prose, and the unlocked code cells without nbgrader metadata (settings such
    # as DRIVE_FOLDER, Going further's variants), which run the student's code wherever it stands anyway.
    prose = {i for i, c in enumerate(release_cells) if c.cell_type in ("markdown", "code") and not nbgrader_of(c)}
    prose -= taken
    budget = [MAX_COMPARISONS]
    for position, cell in enumerate(cells):
        if (
            matches[position] is None
            and prose
            and cell.get("cell_type") in ("markdown", "code")
            and not nbgrader_of(cell)
        ):
            following = (i for i in matches[position + 1 :] if i is not None and i > anchors[position])
            gap = [i for i in sorted(prose) if anchors[position] < i < next(following, len(release_cells))]
            gap = [i for i in gap if release_cells[i].cell_type == cell.get("cell_type")]
            index = edit_of(cell, [(i, release_cells[i]) for i in gap], budget)
            if index is not None:
                matches[position] = index
                prose.discard(index)
    extras, seen, anchor = {}, set(), -1
    for cell, index in zip(cells, matches, strict=True):
        if index is None and cell.get("cell_type") in ("code", "markdown", "raw"):
            extras.setdefault(anchor, []).append(cell)
        elif index is not None and index not in seen:
            seen.add(index)
            anchor = index
    return matches, extras


def edit_of(cell, candidates, budget):
    """The index of the release prose cell among `candidates` [(index, cell)] that `cell` is an edit of:
    the one with its cell id, else the most similar text (difflib ratio at least EDITED_SIMILARITY); None."""
    for index, candidate in candidates:
        if candidate.get("id") in cell_ids(cell):
            return index
    text, best, found = text_key(cell)[1][:MAX_COMPARED], EDITED_SIMILARITY, None
    for index, candidate in candidates:
        if budget[0] <= 0:
            break
        budget[0] -= 1
        matcher = difflib.SequenceMatcher(None, text, text_key(candidate)[1][:MAX_COMPARED], autojunk=False)
        if matcher.real_quick_ratio() >= best and matcher.quick_ratio() >= best and matcher.ratio() >= best:
            best, found = matcher.ratio(), index
    return found


def cell_ids(cell):
    """The ids a saved cell carries: nbformat 4.5's `id`, and the one Colab keeps in the cell metadata."""
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    return [value for value in (cell.get("id"), meta.get("id")) if isinstance(value, str)]


def is_answer(cell):
    return bool(cell.metadata.get("nbgrader", {}).get("solution")) and grade_id(cell) is not None


def label(cell, index):
    return grade_id(cell) or reflection_of(cell) or f"cell {index + 1}"


def nbgrader_change(release_cell, cell):
    """How the nbgrader metadata of the student's `cell` differs from the release's ('' if it does not)."""
    ours, theirs = nbgrader_of(release_cell), nbgrader_of(cell)
    if ours is None and theirs is None:
        return ""
    if theirs is None:
        return "nbgrader metadata removed"
    if ours is None:
        return "nbgrader metadata added"
    changes = []
    for key in sorted(NBGRADER_FLAGS):
        before, after = ours.get(key), theirs.get(key)
        if key == "grade_id" and before != after:
            changes.append(f"grade_id -> {shown(after)}")
        elif same_value(before, after):
            continue
        elif key != "grade_id":
            changes.append(f"{key} {shown(before)} -> {shown(after)}")
    return " and ".join(changes)


def same_value(before, after):
    if isinstance(before, bool) or isinstance(after, bool):
        return before is after
    if isinstance(before, (int, float)) and isinstance(after, (int, float)):
        return float(before) == float(after)
    return before == after


def shown(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return json.dumps(value)[:40] if not isinstance(value, str) else value[:40]


def plain_cell(cell, keep_outputs=False):
    """A student's extra cell as a plain notebook cell: its type and source (and its outputs, rebuilt inert, with
    `keep_outputs`), nothing else."""
    source = source_text(cell)
    kind = cell.get("cell_type")
    if kind == "code":
        return nbformat.v4.new_code_cell(source, outputs=outputs_of(cell) if keep_outputs else [])
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    return nbformat.v4.new_raw_cell(source)
