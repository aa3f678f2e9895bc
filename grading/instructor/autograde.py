"""Autograde a whole class: one command, one row per student, scores decided outside the students' code.

    python -m grading.instructor.autograde SUBMISSIONS --out RESULTS [--mnist-root DIR] [--budget autograde]

SUBMISSIONS is a folder or a .zip, one folder per student or an LMS export
(grading/instructor/submissions.py). RESULTS receives:

    grades.csv                 one row per student: every graded item, the totals, status and reason
    feedback/<student>.html    nbgrader feedback of the notebook run, with the grader's verdicts
    results/<student>.json     that row, the one-sentence message of every item, and the checksum of
                               what was graded (re-runs reuse it)
    course/                    the nbgrader course (gradebook.db, autograded notebooks): open it with
                               nbgrader's formgrader to grade the two free-text answers by hand, then
                               run this command again to put those scores in grades.csv

How one submission is graded ("the kernel reports, the grader judges"):

1. gan.py is compiled (not run) here; the notebook is rebuilt from the release around the student's
   answers (grading/instructor/normalize.py).
2. In the sandbox (grading/instructor/sandbox.py), `python -m nndl2.export functions` calls every graded
   function of gan.py on inputs drawn fresh for this submission, and `python -m nndl2.export train`
   trains the notebook's three GANs with gan.py and the kit's training loop at the autograde budget.
   Both write plain data only.
3. The judge (grading/instructor/judge.py), in this process, scores the functions and Inline Questions
   1-3 from that data; it never imports or runs student code.
4. nbgrader runs the rebuilt notebook in the sandbox, its training cells replaying the grader's run
   (grading/course/preprocessors/replay_training.py), so students and TAs see the familiar cells; its
   answer cells export Inline Questions 4-6, which the judge scores.
5. The judge's scores go into nbgrader's gradebook (formgrader, feedback and grades.csv read them).

Every submission gets a row, whatever it does: an error while reading, compiling or grading one
submission becomes that row's reason and the batch goes on. Re-running is idempotent: an unchanged
submission is not graded again (--regrade forces it) and grades.csv is rewritten from the gradebook.

Training uses the fixed budget of nndl2/budget.py ("autograde"), on the GPU when there is one;
--budget smoke runs a few iterations only (fast checks of everything but the image quality of Inline
Questions 1-3, which then fail).
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
import traceback
from pathlib import Path

import nbformat

from grading.course import build_course, generate_assignment, nbgrader_env
from grading.instructor import judge, sandbox
from grading.instructor.normalize import rebuild
from grading.instructor.submissions import collect, unpack
from grading.kit import ASSIGNMENT, KIT_DATA, NBGRADER_CONFIG, ROOT, SOLUTION_GAN, SOURCE_NOTEBOOK
from nndl2.export import EXPORTS, REPLAY

NOTEBOOK_NAME = f"{ASSIGNMENT}.ipynb"
FUNCTIONS_TIMEOUT = 300  # seconds for the function export (imports torch, builds four networks)
TRAINING_TIMEOUT = 1800  # seconds for the grader's training run at the autograde budget


def graded_items():
    """[(grade_id, points, autograded)] in notebook order: the columns of grades.csv."""
    items = []
    for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            autograded = cell.cell_type == "code" and not meta.get("solution")
            items.append((meta["grade_id"], float(meta["points"]), autograded))
    return items


def column(grade_id):
    return grade_id.removeprefix("test_")


def checksum(paths):
    """sha256 of the files under `paths` (names and contents), caches and downloaded data left out."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for file in files:
            if "MNIST" in file.parts or "__pycache__" in file.parts:
                continue
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def compile_problem(data):
    """None if gan.py (bytes) compiles, else the reason; any error compile() raises counts (RecursionError...)."""
    try:
        compile(data, "gan.py", "exec")
    except SyntaxError as error:
        return f"gan.py does not parse (line {error.lineno}: {error.msg})"
    except Exception as error:  # RecursionError, MemoryError, ValueError (null bytes)...
        return f"gan.py does not compile ({type(error).__name__})"
    return None


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
        self.points = {grade_id: points for grade_id, points, _ in self.items}
        self.kit = checksum([SOURCE_NOTEBOOK, NBGRADER_CONFIG, ROOT / "gan.py", SOLUTION_GAN, KIT_DATA])
        self.kit += checksum([ROOT / "grading" / "instructor", ROOT / "grading" / "course" / "preprocessors"])
        self.expected = judge.expected_answers()

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
        # solutions off the disk the submissions run next to.
        (self.course / "source" / ASSIGNMENT / NOTEBOOK_NAME).unlink()
        shutil.rmtree(self.course / "release", ignore_errors=True)
        stamp.write_text(self.kit)

    def env(self, student, exports=None, replay=None):
        unwanted = {"PYTHONPATH", "GAN_KIT_BUDGET", "JUPYTER_PATH", EXPORTS, REPLAY}
        env = nbgrader_env({k: v for k, v in os.environ.items() if k not in unwanted})
        env["PYTHONUNBUFFERED"] = "1"
        env["TQDM_DISABLE"] = "1"  # progress bars are for people; the logs stay readable
        if self.budget:
            env["GAN_KIT_BUDGET"] = self.budget
        if self.mnist_root:
            env["MNIST_ROOT"] = str(self.mnist_root)
        if exports:
            env[EXPORTS] = str(exports)
        if replay:
            env[REPLAY] = str(replay)
        env["JUPYTER_PATH"] = str(self.course / "kernels" / student)  # the student's sandbox kernelspec
        return env

    def hidden(self, submission):
        """Folders a submission's code must not see: the kit, the results, every submission."""
        hidden = {ROOT, self.out, *(p.resolve().parent for p in submission.files.values())}
        if self.submissions:
            hidden.add(self.submissions)
        return sorted(hidden)

    def run_sandboxed(self, submission, argv, cwd, writable, env, timeout):
        """Run `argv` in the sandbox (or plainly with --sandbox off); returns (returncode or None, output)."""
        command = list(argv)
        if self.sandboxed:
            readable = [self.mnist_root] if self.mnist_root else []
            command = sandbox.plain_command(argv, cwd, writable, self.hidden(submission), readable)
        process = subprocess.Popen(
            command, cwd=cwd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace",
        )  # fmt: skip
        try:
            output, _ = process.communicate(timeout=timeout)
            return process.returncode, output
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return None, output

    def nbgrader(self, student, *args, timeout=None, env=None):
        """Run nbgrader for one student in its own process group; returns (returncode, log text)."""
        db = f"sqlite:///{self.course / 'gradebook.db'}"
        command = [sys.executable, "-m", "nbgrader", *args, ASSIGNMENT, f"--student={student}", "--force"]
        command += [f"--CourseDirectory.root={self.course}", f"--db={db}"]
        if args[0] == "autograde":
            command.append("--ReplayTraining.replay=True")
            if self.sandboxed:
                command.append(f"--Execute.kernel_name={sandbox.KERNEL_NAME}")
        process = subprocess.Popen(
            command, cwd=self.course, env=env or self.env(student), start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
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
        """Grade one submission; never raises: whatever goes wrong becomes the row's reason."""
        student, start = submission.student, time.perf_counter()
        try:
            return self._grade(submission, regrade, start)
        except Exception as error:  # the grader's own failure on this submission: a row, and the batch goes on
            self.log(f"{student}: grading failed: {traceback.format_exc(limit=3)}")
            return self.save(student, None, {}, {}, [f"grading failed ({type(error).__name__}: {error})"], start)

    def _grade(self, submission, regrade, start):
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

        reasons = [f"missing {name}" for name in submission.missing()]
        work = self.out / "work" / student
        shutil.rmtree(work, ignore_errors=True)
        exports = work / "exports"
        for folder in ("functions", "training", "notebook"):
            (exports / folder).mkdir(parents=True)

        verdicts = {}
        gan_problem = None
        if "gan" in submission.files:
            gan_problem = compile_problem(submission.files["gan"].read_bytes())
            if gan_problem:
                reasons.append(gan_problem)
        if "gan" in submission.files and not gan_problem:
            verdicts.update(self.run_exports(submission, work, reasons))
        else:
            why = gan_problem or "missing gan.py"
            verdicts.update({item: judge.Verdict(False, f"{why}.") for item in judge.FUNCTION_ITEMS})
            verdicts.update({item: judge.Verdict(False, f"{why}.") for item in judge.QUALITY_ITEMS})

        ran = self.run_notebook(submission, work, reasons)
        verdicts.update(judge.judge_answers(exports / "notebook", self.expected))
        scores = self.record(student, verdicts) if ran else {}
        if ran:
            self.feedback(student)
        shutil.rmtree(exports / "training", ignore_errors=True)  # trained weights: tens of MB, judged already
        return self.save(student, key, scores, verdicts, reasons, start)

    def run_exports(self, submission, work, reasons):
        """The sandboxed function export and training run, judged here; returns {grade id: Verdict}."""
        student = submission.student
        assignment, exports = work / "assignment", work / "exports"
        assignment.mkdir(parents=True, exist_ok=True)
        shutil.copy(submission.files["gan"], assignment / "gan.py")
        shutil.copytree(KIT_DATA, assignment / KIT_DATA.name, ignore=shutil.ignore_patterns("MNIST", "__pycache__"))
        inputs = judge.draw_inputs()
        judge.save_inputs(work / "inputs.npz", inputs)  # the grader's copy: the sandbox gets another one
        judge.save_inputs(exports / "inputs.npz", inputs)
        env = self.env(student)
        python = [sys.executable, "-m", "nndl2.export"]
        functions = [*python, "functions", "--inputs", str(exports / "inputs.npz"), "--out", str(exports / "functions")]
        code, output = self.run_sandboxed(submission, functions, assignment, [exports], env, FUNCTIONS_TIMEOUT)
        (work / "functions.log").write_text(output)
        if code is None:
            reasons.append(f"the grader's run of gan.py's functions passed its time limit ({FUNCTIONS_TIMEOUT} s)")
        verdicts = judge.judge_functions(exports / "functions", inputs)
        budget = self.budget or "autograde"
        code, output = self.run_sandboxed(
            submission, [*python, "train", "--budget", budget, "--out", str(exports / "training")],
            assignment, [exports], env, TRAINING_TIMEOUT,
        )  # fmt: skip
        (work / "training.log").write_text(output)
        if code is None:
            reasons.append(f"the grader's training run passed its time limit ({TRAINING_TIMEOUT} s)")
        elif code != 0 and not (exports / "training" / "vanilla.npz").exists():
            reasons.append("the grader's training run stopped before training anything")
        verdicts.update(judge.judge_training(exports / "training", verdicts))
        return verdicts

    def run_notebook(self, submission, work, reasons):
        """nbgrader autograde of the rebuilt notebook (sandboxed kernel); False if it could not run at all."""
        student = submission.student
        if "notebook" in submission.files:
            notebook, notes = rebuild(submission.files["notebook"].read_bytes())
            reasons.extend(notes)
        else:
            notebook, _ = rebuild(b"")  # the release: its test cells still show the gan.py checks
        folder = self.course / "submitted" / student / ASSIGNMENT
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / NOTEBOOK_NAME)
        if "gan" in submission.files:
            shutil.copy(submission.files["gan"], folder / "gan.py")
        exports, replay = work / "exports" / "notebook", work / "exports" / "training"
        if self.sandboxed:
            autograded = self.course / "autograded" / student / ASSIGNMENT
            autograded.mkdir(parents=True, exist_ok=True)
            readable = ([self.mnist_root] if self.mnist_root else []) + [replay]
            sandbox.write_kernelspec(
                self.course / "kernels" / student, autograded, self.hidden(submission), readable, writable=[exports]
            )
        env = self.env(student, exports=exports, replay=replay)
        code, output = self.nbgrader(student, "autograde", timeout=self.timeout, env=env)
        (work / "nbgrader.log").write_text(output)
        if code is None:
            reasons.append(f"the notebook passed its time limit ({self.timeout} s)")
        elif code != 0:
            reasons.append("nbgrader could not run the notebook: " + last_error(output))
        return self.has_submission(student)

    def has_submission(self, student):
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(f"sqlite:///{self.course / 'gradebook.db'}") as gradebook:
            try:
                gradebook.find_submission(ASSIGNMENT, student)
                return True
            except MissingEntry:
                return False

    def record(self, student, verdicts):
        """Write the judge's scores into the gradebook (manual grades untouched); returns the scores."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.course / 'gradebook.db'}") as gradebook:
            for item, verdict in verdicts.items():
                grade = gradebook.find_grade(item, ASSIGNMENT, ASSIGNMENT, student)
                grade.auto_score = self.points[item] if verdict.passed else 0.0
                grade.needs_manual_grade = grade.manual_score is not None
            gradebook.db.commit()
        return self.scores(student, {})

    def save(self, student, key, scores, verdicts, reasons, start):
        for item, verdict in verdicts.items():
            if item not in scores:  # no gradebook entry (the notebook could not run): the judge's score
                scores[item] = self.points[item] if verdict.passed else 0.0
        result = {
            "student": student,
            "key": key,
            "scores": scores,
            "messages": {item: verdict.message for item, verdict in verdicts.items()},
            "status": "ok" if not reasons else "problem",
            "reason": "; ".join(reasons),
            "seconds": round(time.perf_counter() - start, 1),
        }
        path = self.out / "results" / f"{student}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
        return result

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
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per notebook (default: 1200)")
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
