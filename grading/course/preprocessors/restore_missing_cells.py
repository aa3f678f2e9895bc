"""Autograde pass: put back every locked cell a student deleted, in its place.

nbgrader's OverwriteCells restores the sources of locked cells that are still there, and its
add_missing_cells option re-adds deleted grade cells, but (nbgrader 0.9.6) only after a previous
cell that is itself a grade or solution cell: when the cell before a deleted test is a read-only
cell (here, the test right after the dataset cell) it stops with KeyError, and a deleted
read-only cell (a training cell, say) is never restored. This pass re-adds every missing locked
or grade cell right after the nearest earlier source cell that the submission still has.
"""

from nbgrader.preprocessors import OverwriteCells


def grade_ids(nb):
    """{grade_id: index} of the cells of `nb` that carry nbgrader metadata."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: index
        for index, cell in enumerate(nb.cells)
        if "grade_id" in cell.metadata.get("nbgrader", {})
    }


class RestoreMissingCells(OverwriteCells):
    def add_missing_grade_cells(self, nb, resources):
        notebook = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = notebook.source_cells
        points = {cell.name: cell.max_score for cell in notebook.grade_cells}
        solutions = {cell.name for cell in notebook.solution_cells}
        for position, source in enumerate(source_cells):
            present = grade_ids(nb)
            if source.name in present or not (source.locked or source.name in points):
                continue
            self.log.warning("Cell %s was deleted from the submission: restoring it", source.name)
            if source.name in points:
                cell = self.missing_cell_transform(source, points[source.name], is_solution=source.name in solutions)
            else:  # a read-only cell: nbgrader's transform makes grade cells, so unmark it
                cell = self.missing_cell_transform(source, 0)
                cell.metadata.nbgrader.update({"grade": False, "locked": True})
                cell.metadata.nbgrader.pop("points", None)
            earlier = [present[s.name] for s in source_cells[:position] if s.name in present]
            nb.cells.insert(max(earlier) + 1 if earlier else 0, cell)
        return nb, resources
