"""Autograde's sanitizing pass: nbgrader's ClearOutput, except in the notebooks that are never run.

nbgrader clears every submitted output before it runs a notebook. Part 2's notebook (grading/course/part2.py)
is not run by the grader (its training is the student's): what a TA grades by looking, the generated faces, is
the student's own output. So in the notebooks of `kept` the outputs stay, but those of graded cells (their
tests: the judge scores those items, never what the student's kernel printed). The outputs kept are then
size-limited (LimitedExecute.unexecuted) and made inert (SanitizeNotebook) by the autograde passes.
"""

from nbgrader.preprocessors import ClearOutput
from traitlets import List, Unicode

from grading.course.part2 import NOTEBOOK as PART2_NOTEBOOK


class KeepOutputs(ClearOutput):
    kept = List(
        Unicode(), [PART2_NOTEBOOK], help="Notebooks (names) whose submitted outputs are kept, but graded cells'"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        if (resources or {}).get("unique_key") not in self.kept:
            return super().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                cell.outputs = []
                cell.execution_count = None
        return nb, resources
