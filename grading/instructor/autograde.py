"""Autograde a whole class with nbgrader: one command, one row per student.

    python -m grading.instructor.autograde SUBMISSIONS --out RESULTS [--mnist-root DIR] [--budget autograde]

SUBMISSIONS is a folder or a .zip, one folder per student or a flat LMS export
(grading/instructor/submissions.py). RESULTS receives:

    grades.csv                 one row per student: every graded item, the totals, status and reason
    feedback/<student>.html    nbgrader feedback, without hidden tests or their tracebacks
    results/<student>.json     that row plus the checksum of what was graded (re-runs reuse it)
    course/                    the nbgrader course (gradebook.db, autograded notebooks): open it with
                               nbgrader's formgrader to grade the two free-text answers by hand, then
                               run this command again to put those scores in grades.csv

Every submission gets a row, whatever it does: missing files, a gan.py that does not parse, a
kernel that dies or a run past --timeout give zeros where due and a reason. Re-running is
idempotent: an unchanged submission is not graded again (--regrade forces it) and grades.csv is
rewritten from the gradebook. Each student's kernel runs in a sandbox (grading/instructor/sandbox.py) that
sees neither the solution, the hidden tests, nor other students' files.

Training inside autograde uses the fixed budget of nndl2/budget.py ("autograde"), on the GPU when
there is one; --budget smoke runs a few iterations only (fast checks of everything but the image
quality of Inline Questions 1-3, which then fail).
"""

import argparse
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading.course import build_course, generate_assignment, going_further, nbgrader_env
from grading.instructor import sandbox
from grading.instructor.submissions import collect, unpack
from grading.kit import ASSIGNMENT, NBGRADER_CONFIG, ROOT, SOURCE_NOTEBOOK

NOTEBOOK_NAME = f"{ASSIGNMENT}.ipynb"


def graded_items():
    """[(grade_id, points, autograded)] in notebook order: the columns of grades.csv."""
    items = []
    for cell in going_further.course_notebook().cells:  # the reflections of "Going further" may carry points
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            autograded = cell.cell_type == "code" and not meta.get("solution")
            items.append((meta["grade_id"], float(meta["points"]), autograded))
    return items


def column(grade_id):
    return grade_id.removeprefix("test_")


def checksum(paths):
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for file in files:
            if "MNIST" in file.parts or "__pycache__" in file.parts:
                continue
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


class Grader:
    """One nbgrader course under `out`/course that every submission of a batch is graded in."""

    def __init__(
        self, out, budget=None, timeout=1200, mnist_root=None, use_sandbox="auto", submissions=None, log=print
    ):
        self.out, self.budget, self.timeout, self.log = Path(out).resolve(), budget, timeout, log
        self.submissions = Path(submissions).resolve() if submissions else None
        self.course = self.out / "course"
        self.mnist_root = Path(mnist_root).resolve() if mnist_root else None
        works = sandbox.sandbox_works()
        if use_sandbox == "on" and not works:
            raise RuntimeError("--sandbox on: bubblewrap (bwrap) is missing or cannot run here")
        self.sandboxed = works and use_sandbox != "off"
        if not self.sandboxed and use_sandbox == "auto":
            print(
                "WARNING: no bubblewrap sandbox (install the 'bubblewrap' package): student code runs "
                "unconfined and could read the solution or other submissions.",
                file=sys.stderr,
            )
        self.items = graded_items()
        self.kit = checksum(
            [SOURCE_NOTEBOOK, NBGRADER_CONFIG, Path(going_further.__file__), ROOT / "gan.py", ROOT / "nndl2"]
        )

    # -- the course -------------------------------------------------------------------------
    def prepare(self):
        """Build the course and its gradebook, or reuse the one of an earlier run of the same kit."""
        stamp = self.course / "kit.sha256"
        if stamp.exists() and stamp.read_text() == self.kit:
            return
        if self.course.exists():
            moved = self.out / f"course.before-{time.strftime('%Y%m%d-%H%M%S')}"
            self.log(f"the kit changed since the last run: keeping the old course as {moved}")
            self.course.rename(moved)
            shutil.rmtree(self.out / "results", ignore_errors=True)
        build_course(self.course)
        generate_assignment(self.course)
        # Autograde needs no source notebook (locked cells come from the gradebook): keep the
        # solutions and hidden tests off the disk the submissions run next to.
        (self.course / "source" / ASSIGNMENT / NOTEBOOK_NAME).unlink()
        shutil.rmtree(self.course / "release", ignore_errors=True)
        stamp.write_text(self.kit)

    def env(self, student):
        unwanted = {"PYTHONPATH", "GAN_KIT_BUDGET", "JUPYTER_PATH"}  # never leak into a student's kernel
        env = nbgrader_env({k: v for k, v in os.environ.items() if k not in unwanted})
        env["PYTHONUNBUFFERED"] = "1"
        if self.budget:
            env["GAN_KIT_BUDGET"] = self.budget
        if self.mnist_root:
            env["MNIST_ROOT"] = str(self.mnist_root)
        env["JUPYTER_PATH"] = str(self.course / "kernels" / student)  # the student's sandbox kernelspec
        return env

    def nbgrader(self, student, *args, timeout=None):
        """Run nbgrader for one student in its own process group; returns (returncode, log text)."""
        db = f"sqlite:///{self.course / 'gradebook.db'}"
        command = [sys.executable, "-m", "nbgrader", *args, ASSIGNMENT, f"--student={student}", "--force"]
        command += [f"--CourseDirectory.root={self.course}", f"--db={db}"]
        if self.sandboxed and args[0] == "autograde":
            command.append(f"--Execute.kernel_name={sandbox.KERNEL_NAME}")
        process = subprocess.Popen(
            command, cwd=self.course, env=self.env(student), start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            output, _ = process.communicate(timeout=timeout)
            return process.returncode, output
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # nbgrader, its kernel and anything they started
            output, _ = process.communicate()
            return None, output

    # -- one submission ---------------------------------------------------------------------
    def grade(self, submission, regrade=False):
        student = submission.student
        files = list(submission.files.values())
        key = hashlib.sha256((self.kit + checksum(files) + str(self.budget)).encode()).hexdigest()
        result_path = self.out / "results" / f"{student}.json"
        if result_path.exists() and not regrade:
            previous = json.loads(result_path.read_text())
            if previous.get("key") == key:
                previous["scores"] = self.scores(student, previous["scores"])
                result_path.write_text(json.dumps(previous, indent=1))
                self.log(f"{student}: unchanged, reusing the earlier grading")
                return previous

        start, reasons, ran = time.perf_counter(), [], False
        reasons += [f"missing {name}" for name in submission.missing()]
        if "gan" in submission.files:
            try:
                compile(submission.files["gan"].read_bytes(), "gan.py", "exec")
            except SyntaxError as error:
                reasons.append(f"gan.py does not parse (line {error.lineno}: {error.msg})")
        if "notebook" in submission.files:
            ran = True
            self.stage(submission)
            code, output = self.nbgrader(student, "autograde", timeout=self.timeout)
            if code is None:
                reasons.append(f"timed out after {self.timeout} s")
            elif code != 0:
                reasons.append("nbgrader failed: " + last_error(output))
            if "DeadKernelError" in output or "Kernel died" in output:
                reasons.append("the kernel died (out of memory, or a crash in gan.py)")
            self.feedback(student)
        scores = self.scores(student, {}) if ran else {}
        result = {
            "student": student,
            "key": key,
            "scores": scores,
            "status": "ok" if not reasons else "problem",
            "reason": "; ".join(reasons),
            "seconds": round(time.perf_counter() - start, 1),
        }
        result_path.parent.mkdir(parents=True, exist_ok=True)
        result_path.write_text(json.dumps(result, indent=1))
        return result

    def stage(self, submission):
        """Copy the submission into the course's submitted/ folder (and nothing else)."""
        folder = self.course / "submitted" / submission.student / ASSIGNMENT
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copy(submission.files["notebook"], folder / NOTEBOOK_NAME)
        if "gan" in submission.files:
            shutil.copy(submission.files["gan"], folder / "gan.py")
        if self.sandboxed:
            workdir = self.course / "autograded" / submission.student / ASSIGNMENT
            workdir.mkdir(parents=True, exist_ok=True)
            hidden = {ROOT, self.out, *(p.resolve().parent for p in submission.files.values())}
            if self.submissions:
                hidden.add(self.submissions)  # every student's files, not only this one's
            readable = [self.mnist_root] if self.mnist_root else []
            sandbox.write_kernelspec(self.course / "kernels" / submission.student, workdir, sorted(hidden), readable)

    def feedback(self, student):
        code, output = self.nbgrader(student, "generate_feedback", timeout=600)
        html = self.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        if code == 0 and html.exists():
            (self.out / "feedback").mkdir(parents=True, exist_ok=True)
            shutil.copy(html, self.out / "feedback" / f"{student}.html")
        else:
            self.log(f"{student}: no feedback ({last_error(output)})")

    def scores(self, student, fallback):
        """{grade_id: score or None (manual, not graded yet)} from the gradebook."""
        from nbgrader.api import Gradebook, MissingEntry

        scores = dict(fallback)
        with Gradebook(f"sqlite:///{self.course / 'gradebook.db'}") as gradebook:
            try:
                submission = gradebook.find_submission(ASSIGNMENT, student)
            except MissingEntry:
                return scores
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.manual_score is not None:
                        scores[grade.name] = grade.manual_score
                    elif grade.needs_manual_grade and grade.auto_score is None:
                        scores[grade.name] = None
                    else:
                        scores[grade.name] = grade.auto_score or 0.0
        return scores


def last_error(output):
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "[ERROR]" in line or "Error" in line]
    return (errors or lines or ["no output"])[-1][:300]


def write_grades(path, results, items):
    """grades.csv: student, one column per item (blank = to be graded by hand), totals, status, reason."""
    header = ["student"] + [column(g) for g, _, _ in items]
    header += ["autograded_score", "autograded_max", "total_score", "total_max", "status", "reason", "seconds"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for result in sorted(results, key=lambda r: r["student"]):
            scores, row = result["scores"], [result["student"]]
            for grade_id, _, autograded in items:
                score = scores.get(grade_id, 0.0 if autograded else None)
                row.append("" if score is None else f"{score:g}")
            auto = sum(scores.get(g) or 0.0 for g, _, a in items if a)
            total = sum(scores.get(g) or 0.0 for g, _, _ in items)
            row += [
                f"{auto:g}",
                f"{sum(p for _, p, a in items if a):g}",
                f"{total:g}",
                f"{sum(p for _, p, _ in items):g}",
            ]
            row += [result["status"], result["reason"], result["seconds"]]
            writer.writerow(row)


def summary(results, items):
    """The printed end of a batch: the grade table, counts and the mean score of each item."""
    lines = []
    width = max([len(r["student"]) for r in results] + [7])
    names = [column(g) for g, _, _ in items]
    lines.append(f"{'student':<{width}}  " + " ".join(f"{i + 1:>2}" for i in range(len(items))) + "  total  reason")
    for result in sorted(results, key=lambda r: r["student"]):
        cells = []
        for grade_id, _, autograded in items:
            score = result["scores"].get(grade_id, 0.0 if autograded else None)
            cells.append(" ." if score is None else f"{score:>2g}")
        total = sum(result["scores"].get(g) or 0.0 for g, _, _ in items)
        lines.append(f"{result['student']:<{width}}  " + " ".join(cells) + f"  {total:>5g}  {result['reason']}")
    lines.append("columns: " + ", ".join(f"{i + 1}={name}" for i, name in enumerate(names)) + "  (. = graded by hand)")
    problems = sum(r["status"] != "ok" for r in results)
    lines.append(f"graded {len(results)} submissions: {len(results) - problems} ok, {problems} with problems")
    for grade_id, points, autograded in items:
        if autograded and results:
            mean = sum(r["scores"].get(grade_id) or 0.0 for r in results) / len(results)
            lines.append(f"  mean {column(grade_id):<22} {mean:5.2f} / {points:g}")
    return "\n".join(lines)


def autograde(
    submissions, out, budget=None, timeout=1200, mnist_root=None, use_sandbox="auto", regrade=False, log=print
):
    """Grade every submission under `submissions` (folder or zip) into `out`; returns the results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = unpack(submissions, tmp) if str(submissions).endswith(".zip") else Path(submissions)
        found = collect(folder)
        if not found:
            raise SystemExit(f"no submissions found in {submissions} (layouts: grading/instructor/submissions.py)")
        grader = Grader(out, budget, timeout, mnist_root, use_sandbox, submissions=folder, log=log)
        grader.prepare()
        results = []
        for number, submission in enumerate(found.values(), 1):
            log(f"[{number}/{len(found)}] grading {submission.student} ...")
            result = grader.grade(submission, regrade=regrade)
            log(f"[{number}/{len(found)}] {submission.student}: {result['seconds']} s {result['reason']}")
            results.append(result)
    write_grades(out / "grades.csv", results, grader.items)
    return results, grader.items


def ensure_mnist(root):
    """Load (and, with internet, download) MNIST once, so no submission downloads it again."""
    from nndl2.data import load_mnist, mnist_root

    root = mnist_root(root)
    load_mnist(root)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder or .zip of submissions")
    parser.add_argument("--out", type=Path, default=Path("autograded"), help="results folder (default: autograded)")
    parser.add_argument("--mnist-root", type=Path, help="MNIST folder (default: $MNIST_ROOT, else download to nndl2/)")
    parser.add_argument("--budget", choices=["autograde", "smoke"], help="training budget (default: autograde)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per submission (default: 1200)")
    parser.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--regrade", action="store_true", help="grade unchanged submissions again")
    args = parser.parse_args(argv)
    mnist = ensure_mnist(args.mnist_root or os.environ.get("MNIST_ROOT"))
    results, items = autograde(
        args.submissions, args.out, budget=args.budget, timeout=args.timeout, mnist_root=mnist,
        use_sandbox=args.sandbox, regrade=args.regrade,
    )  # fmt: skip
    print(summary(results, items))
    print(f"wrote {args.out / 'grades.csv'} and {args.out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
