"""The course's nbgrader gradebook, written by one process only.

SQLite is not safe for concurrent writers (nbgrader issue #174), and grading runs several submissions
at once (--jobs). So every nbgrader command of one student (autograde, generate_feedback) runs on a
private working copy of the gradebook, taken when that student's grading starts (autograde writes the
judge's scores into it: grading/instructor/judging/judged_grades.py); and at the end the coordinator merges
the student's automatic fields
(scores, comments, timestamp, late penalty) into the course's gradebook under a lock. Grades and
comments a TA entered by hand (formgrader) are never overwritten: the merge leaves every manual field
as the course's gradebook has it, so grading again keeps them.
"""

import shutil
import sqlite3
import threading
from contextlib import closing, contextmanager
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from grading.kit import ASSIGNMENT


def url(path):
    return f"sqlite:///{path}"


class Gradebooks:
    """The course's gradebook (`course`/gradebook.db) and the per-student working copies beside it."""

    def __init__(self, course):
        self.course = Path(course)
        self.main = self.course / "gradebook.db"
        self.copies = self.course / "gradebooks"
        self.lock = threading.Lock()

    def working_copy(self, student):
        """A consistent copy of the course's gradebook for `student`'s nbgrader commands; returns its path."""
        self.copies.mkdir(exist_ok=True)
        path = self.copies / f"{student}.db"
        path.unlink(missing_ok=True)
        with self.lock, closing(sqlite3.connect(self.main)) as source, closing(sqlite3.connect(path)) as target:
            source.backup(target)  # SQLite's online backup: a consistent snapshot even while others read
        return path

    def merge(self, copy, student):
        """Copy `student`'s automatic fields from the working copy into the course's gradebook."""
        with self.lock, Gradebook(url(copy)) as source, Gradebook(url(self.main)) as target:
            submitted = find_submission(source, student)
            if submitted is None:
                return False
            target.update_or_create_student(student)
            merged = find_submission(target, student)
            if merged is None:
                with target.db.no_autoflush:  # nbgrader's add_submission otherwise flushes half-built rows (SAWarning)
                    merged = target.add_submission(ASSIGNMENT, student)
            merged.timestamp = submitted.timestamp
            for notebook in submitted.notebooks:
                into = target.find_submission_notebook(notebook.name, ASSIGNMENT, student)
                into.late_submission_penalty = notebook.late_submission_penalty
                for grade in notebook.grades:
                    mine = target.find_grade(grade.name, notebook.name, ASSIGNMENT, student)
                    mine.auto_score = grade.auto_score
                    mine.needs_manual_grade = needs_manual_grade(mine)
                for comment in notebook.comments:
                    target.find_comment(
                        comment.name, notebook.name, ASSIGNMENT, student
                    ).auto_comment = comment.auto_comment
            target.db.commit()
        copy.unlink(missing_ok=True)
        return True

    def discard(self, copy):
        Path(copy).unlink(missing_ok=True)

    def reset(self):
        """Forget the working copies (a crashed run may leave some)."""
        shutil.rmtree(self.copies, ignore_errors=True)


def needs_manual_grade(grade):
    """A cell needs a TA when nobody has scored it: no manual score and no automatic one."""
    return grade.manual_score is None and grade.auto_score is None


def find_submission(gradebook, student):
    """`student`'s submission of the assignment in the open `gradebook`, or None when there is none."""
    try:
        return gradebook.find_submission(ASSIGNMENT, student)
    except MissingEntry:
        return None


@contextmanager
def submission_of(path, student):
    """`student`'s submission in the gradebook at `path` (None without one), while that gradebook is open."""
    with Gradebook(url(path)) as gradebook:
        yield find_submission(gradebook, student)


def has_submission(path, student):
    with submission_of(path, student) as submission:
        return submission is not None


def notebooks_changed(path, notebooks):
    """Why the assignment in the gradebook at `path` cannot take the notebooks `notebooks` (names), or ''.

    nbgrader's generate_assignment refuses to add or remove a notebook of an assignment with submissions:
    Part 2's notebook (grading/course/part2.py) switched on or off over graded submissions."""
    if not Path(path).exists():
        return ""
    with Gradebook(url(path)) as gradebook:
        try:
            assignment = gradebook.find_assignment(ASSIGNMENT)
        except MissingEntry:
            return ""
        have = {notebook.name for notebook in assignment.notebooks}
        if have == set(notebooks) or not assignment.submissions:
            return ""
        added, removed = sorted(set(notebooks) - have), sorted(have - set(notebooks))
    change = [f"{', '.join(added)} added" if added else "", f"{', '.join(removed)} removed" if removed else ""]
    return f"the graded notebooks changed since its submissions were graded ({'; '.join(filter(None, change))})"


def scores(path, student):
    """{grade id: score, or None for a cell nobody has graded yet} of `student`; {} without a submission."""
    found = {}
    with submission_of(path, student) as submission:
        for notebook in submission.notebooks if submission else ():
            for grade in notebook.grades:
                if grade.manual_score is not None:
                    found[grade.name] = grade.manual_score
                elif grade.auto_score is None:
                    found[grade.name] = None
                else:
                    found[grade.name] = grade.auto_score
    return found


def manual_state(path, student):
    """The TA-entered grades and comments of `student` (to tell when feedback must be made again)."""
    state = []
    with submission_of(path, student) as submission:
        for notebook in submission.notebooks if submission else ():
            state += [(g.name, g.manual_score, g.extra_credit) for g in notebook.grades if g.manual_score is not None]
            state += [(c.name, c.manual_comment) for c in notebook.comments if c.manual_comment]
    return sorted(state, key=str)
