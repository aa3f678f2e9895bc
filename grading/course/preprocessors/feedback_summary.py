"""Feedback pass: a summary of every graded item at the top of the feedback, from the grader's verdicts.

For each graded cell, in notebook order: its title (grading/course/items.py), the score and points
nbgrader's GetGrades put on the cell (run this pass after it), and one sentence saying why:

- an autograded item: the judge's message for it, which the autograde pass that scored it wrote into the
  notebook's metadata (gan_kit.verdicts: {grade id: sentence}; grading/instructor/judging/judged_grades.py),
  or, without one, whether it passed;
- an item graded by hand: "to be graded by your TA" while no TA has scored it, then the TA's score
  and comment.

Above them, the grading's notes on the submission (the JSON file `notes`, by default the one the kit's
autograde writes into the course folder, gan-kit/notes/<student>.json: {"notes": [sentence...]}).

Then the items of the assignment's other notebooks that the gradebook holds for this student, under a
heading with each notebook's name and points: Part 2's (grading/course/part2.py), graded when FACES_POINTS is
above 0, in its notebook's order: its code cells autograded, its markdown cells (answers, and the samples: a
task) graded by hand; their titles link nowhere. When the student submitted Part 2's notebook, it has a
feedback page of its own (never run: the student's outputs), whose summary lists its items first.

The summary goes into resources["gan_kit"] for the template (grading/course/templates/gan-kit-feedback).
Nothing here is a student's text but the judge's messages, which the template escapes.
"""

import json
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.api import Gradebook, MissingEntry
from traitlets import Bool, Unicode

from grading.course.items import PENDING, title
from grading.course.part2 import TITLES as PART2_ITEMS

ORDER = {grade_id: number for number, grade_id in enumerate(PART2_ITEMS)}  # Part 2's items in its notebook's order

NOTES = "gan-kit/notes/{student}.json"  # where the kit's autograde writes them, in the course folder
VERDICTS = "gan_kit"  # the notebook metadata key of the judge's messages (written by judged_grades.py)


class FeedbackSummary(Preprocessor):
    enabled = Bool(True, help="nbconvert's preprocessors are off unless enabled").tag(config=True)
    notes = Unicode(
        NOTES, help="JSON file of the grading's notes ({student}: the student id; relative to the course folder)"
    ).tag(config=True)

    def read_notes(self, student):
        path = Path(self.notes.format(student=student))
        return json.loads(path.read_text()).get("notes", []) if path.is_file() else []

    def item(self, cell_type, meta, messages, manual):
        """The summary's entry of one graded cell (its nbgrader metadata `meta`, with GetGrades' score)."""
        grade_id = meta["grade_id"]
        score, points = meta.get("score"), meta.get("points")
        by_hand = cell_type == "markdown" or meta.get("solution")
        item = {"id": grade_id, "title": title(grade_id), "score": score, "points": points, "pending": False}
        if by_hand:
            ta_score, ta_comment = manual.get(grade_id, (None, None))
            if ta_score is None:
                item.update(pending=True, message=PENDING)
            else:
                item["message"] = "Graded by your TA" + (f": {ta_comment}" if ta_comment else ".")
        else:
            passed = score is not None and points is not None and score >= points
            item["message"] = messages.get(grade_id) or ("Passed." if passed else "Not passed.")
        item["passed"] = not item["pending"] and score is not None and score >= (points or 0)
        return item

    def preprocess(self, nb, resources):
        grader = resources.get("nbgrader", {})
        messages = nb.metadata.get(VERDICTS, {}).get("verdicts", {})
        notes = self.read_notes(grader["student"])
        manual = {}  # grade id -> (the TA's score, the TA's comment)
        others = []  # the other notebooks' grades: (notebook, grade id, code cell, score, points)
        with Gradebook(grader["db_url"]) as gradebook:
            try:
                submission = gradebook.find_submission(grader["assignment"], grader["student"])
            except MissingEntry:
                submission = None
            for found in submission.notebooks if submission else ():
                comments = {comment.name: comment.manual_comment for comment in found.comments}
                manual |= {grade.name: (grade.manual_score, comments.get(grade.name)) for grade in found.grades}
                if found.name != grader["notebook"]:
                    grades = sorted(found.grades, key=lambda g: ORDER.get(g.name, len(ORDER)))
                    others += [(found.name, g.name, g.cell.cell_type == "code", g.score, g.max_score) for g in grades]
        items = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") or meta.get("task"):  # a task: Part 2's samples, graded by looking
                items.append(self.item(cell.cell_type, meta, messages, manual))
        for name, grade_id, code, score, points in others:
            meta = {"grade_id": grade_id, "score": score, "points": points}
            item = self.item("code" if code else "markdown", meta, messages, manual) | {"elsewhere": True}
            if not items or items[-1].get("notebook") != name:  # a heading row: the notebook and its points
                scored = [(s or 0.0, p or 0.0) for n, _, _, s, p in others if n == name]
                total, most = sum(s for s, _ in scored), sum(p for _, p in scored)
                item["heading"] = f"{name}: {total:.1f} / {most:.1f} points"
            items.append(item | {"notebook": name})
        resources["gan_kit"] = {"items": items, "notes": notes}
        return nb, resources
