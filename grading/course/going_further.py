"""Points for the notebook's optional "Going further" reflections: the one switch.

    GOING_FURTHER_POINTS = None   # default: the reflections are plain markdown cells, graded by nobody
    GOING_FURTHER_POINTS = 1      # each reflection becomes a manually graded answer worth 1 point

The source notebook marks each reflection cell with the cell metadata key MARKER (its value: the
grade id the cell gets when graded). build_course (grading/course/__init__.py) writes the course's
copy of the source notebook through `write_course_notebook`, so the student release
(`python -m grading.ta.release`) and the autograder's gradebook (`python -m grading.instructor.autograde`)
both follow this setting: with points, nbgrader's gradebook has one more manually graded item per
reflection, the formgrader lists them beside Inline Questions 5 and 6, and grades.csv has their
columns.

Switch it before you release the assignment and keep it until the class is graded: the cells'
nbgrader metadata travels inside the students' notebooks, so a class must be graded with the
setting it was released with. Then run `python -m grading.ta.release` (and commit its output).
"""

import shutil

import nbformat

from grading.kit import SOURCE_NOTEBOOK

GOING_FURTHER_POINTS = None  # None (ungraded) or the points of each reflection answer, e.g. 1

MARKER = "going_further_reflection"  # cell metadata key of a reflection cell; its value is the grade id


def apply_points(notebook, points):
    """Make each reflection cell of `notebook` (nbformat, changed in place) a manually graded answer worth `points`.

    points None leaves the notebook as it is. Returns the notebook.
    """
    if points is None:
        return notebook
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not points > 0:
        raise ValueError(f"GOING_FURTHER_POINTS must be None or a positive number, got {points!r}")
    for cell in notebook.cells:
        grade_id = cell.metadata.get(MARKER)
        if grade_id is None:
            continue
        if cell.cell_type != "markdown":
            raise ValueError(f"reflection cell {grade_id!r} must be a markdown cell, not {cell.cell_type}")
        cell.metadata["nbgrader"] = {
            "grade": True,
            "grade_id": grade_id,
            "locked": False,
            "points": points,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
        # nbgrader replaces the solution region with "YOUR ANSWER HERE" in the release.
        label = f"{points:g} point{'' if points == 1 else 's'}, graded by hand"
        cell.source = f"**Your answer ({label}):**\n\n### BEGIN SOLUTION\n### END SOLUTION"
    return notebook


def course_notebook():
    """The source notebook as the course uses it: GOING_FURTHER_POINTS applied."""
    return apply_points(nbformat.read(SOURCE_NOTEBOOK, as_version=4), GOING_FURTHER_POINTS)


def write_course_notebook(path):
    """Write the course's source notebook to `path`: a plain copy while the reflections are ungraded."""
    if GOING_FURTHER_POINTS is None:
        shutil.copy(SOURCE_NOTEBOOK, path)
    else:
        nbformat.write(course_notebook(), path)
