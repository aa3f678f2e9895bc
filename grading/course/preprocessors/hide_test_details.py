"""Feedback pass: a failed test cell shows its error message, not the traceback.

nbgrader's ClearHiddenTests removes the hidden tests from the cells' sources, but a traceback of a
failed hidden assertion quotes the hidden test's lines. This pass replaces the traceback of every
autograder test cell by the error's type and message (which the tests write for students).
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

MAX_MESSAGE = 400


def is_test_cell(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


class HideTestDetails(Preprocessor):
    enabled = Bool(True, help="nbconvert's preprocessors are off unless enabled").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    message = str(output.get("evalue", ""))[:MAX_MESSAGE]
                    output.traceback = [f"{output.get('ename', 'Error')}: {message}"]
        return cell, resources
