"""Autograde pass: the judge's verdicts become the gradebook's automatic scores, once, with their messages.

It takes the place of nbgrader's SaveAutoGrades in the course's autograde pipeline
(grading/course/nbgrader_config.py). SaveAutoGrades scores a test cell by its outputs in the student's kernel;
here the kernel only reports. The kit's autograde judges the functions and trainings in its own process before
the notebook runs and writes those verdicts to the file `verdicts` (verdict.py); after the kernel has run the
notebook, this pass judges the answers it exported to the folder `answers` (answers.py), then writes each grade
cell's automatic score into the gradebook:

- an item with a verdict: its points when it passed, else 0;
- an item the verdicts file lists as null (Part 2's items graded by hand): no score, for a TA;
- a test cell with no verdict: no score, for a TA; its outputs in the kernel never score;
- a written answer (a solution cell): nbgrader's own rule (0 when left as released, else for a TA).

Every verdict's message goes into the notebook's metadata (gan_kit.verdicts: {grade id: sentence}), which the
feedback's summary reads (grading/course/preprocessors/feedback_summary.py); the verdicts it scored with go to
the file `judged` (one per notebook), from which the kit's autograde takes the submission's row. Without
`verdicts` (nbgrader run by hand in the course folder) no test cell gets a score and the log says why.
"""

from nbgrader import utils
from nbgrader.preprocessors import SaveAutoGrades
from traitlets import Unicode

from grading.course.preprocessors.feedback_summary import VERDICTS
from grading.instructor.judging import answers, verdict
from grading.instructor.outputs.gradebook import needs_manual_grade
from nndl2.items import of_kind


class JudgedGrades(SaveAutoGrades):
    verdicts = Unicode("", help="JSON file of the grader's verdicts (verdict.save); '' scores no test cell").tag(
        config=True
    )
    answers = Unicode("", help="folder of the answers the notebook's kernel exported (Inline Questions 4-6)").tag(
        config=True
    )
    judged = Unicode(
        "", help="JSON file this pass writes ({notebook}: the notebook's name): the verdicts it scored it with"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        self.applied = {}
        if not self.verdicts:
            self.log.warning("no judge's verdicts (--JudgedGrades.verdicts): the test cells are left for a TA")
            self.known = {}
        else:
            self.known = verdict.load(self.verdicts)
            ids = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells}
            asked = [item.grade_id for item in of_kind("answer") if item.grade_id in ids]
            if self.answers and any(item not in self.known for item in asked):
                self.known |= answers.judge_answers(self.answers)
        nb, resources = super().preprocess(nb, resources)
        messages = {item: v.message for item, v in self.known.items() if v is not None}
        nb.metadata[VERDICTS] = {"verdicts": messages}
        if self.judged:
            verdict.save(self.judged.format(notebook=self.notebook_id), self.applied)
        return nb, resources

    def _add_score(self, cell, resources):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        grade = self.gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id, self.student_id)
        if grade_id in self.known:
            found = self.known[grade_id]
            grade.auto_score = None if found is None else (float(grade.max_score) if found.passed else 0.0)
            self.applied[grade_id] = found
        elif utils.is_solution(cell):
            grade.auto_score, _ = utils.determine_grade(cell, self.log)  # a written answer: nbgrader's rule
        else:
            grade.auto_score = None
        grade.needs_manual_grade = needs_manual_grade(grade)
        self.gradebook.db.commit()
