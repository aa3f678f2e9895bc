"""Autograde a whole class: one command, one row per student, scores decided outside the students' code.

    python -m grading.instructor.autograde SUBMISSIONS --out RESULTS [--mnist-root DIR] [--budget autograde]
                                           [--submission-timeout SECONDS] [--precision float32|auto]

SUBMISSIONS is a folder or a .zip, one folder per student or an LMS export
(grading/instructor/intake/submissions.py). RESULTS receives:

    grades.csv                 one row per student: every graded item, the totals, status and reason
    feedback/<student>.html    nbgrader feedback of the notebook run, with the grader's verdicts
    feedback/Faces-PyTorch/<student>.html   with Part 2 graded, the feedback of the submitted Part 2 notebook
    results/<student>.json     that row, the one-sentence message of every item, and the checksum of
                               what was graded (re-runs reuse it)
    problems.txt               what the export held that is no student's (archive members refused outside
                               any student's files), one a line; no file when there is nothing
    course/                    the nbgrader course (gradebook.db, autograded notebooks): open it with
                               nbgrader's formgrader to grade the two free-text answers by hand, then
                               run this command again to put those scores in grades.csv

How one submission is graded ("the kernel reports, the grader judges"):

1. gan.py is compiled (not run) here; the notebook is rebuilt from the release around the student's
   answers (grading/instructor/intake/normalize.py).
2. In the sandbox (grading/instructor/confine/sandbox.py), `python -m nndl2.agent.export functions` calls every graded
   function of gan.py on inputs drawn fresh for this submission, and `python -m nndl2.agent.export train`
   trains the notebook's three GANs with gan.py and the kit's training loop at the autograde budget.
   Both write plain data only. (With --alike, the default for a large batch (trained.ALIKE_BATCH): a GAN
   whose first iterations leave G's weights bit for bit as the reference solution's, trained first, or as a
   correct solution's in another common style, goes on with that solution's run instead:
   grading/instructor/judging/trained.py Alike.)
3. The judge (grading/instructor/judging/judge.py), in this process, scores the functions and Inline Questions
   1-3 from that data; it never imports or runs student code.
4. nbgrader runs the rebuilt notebook in the sandbox, its training cells replaying the grader's run
   (grading/course/preprocessors/replay_training.py), so students and TAs see the familiar cells; its
   answer cells export Inline Questions 4-6.
5. In nbgrader's pipeline, after the kernel, the judge's pass (grading/instructor/judging/judged_grades.py, in
   the place of nbgrader's SaveAutoGrades) judges those answers and writes every verdict into the gradebook
   once, with its message (formgrader, feedback and grades.csv read them); no output of the kernel scores.

Part 2 (faces, grading/course/part2.py) is graded only when FACES_POINTS is above 0 (default 0: nothing
of it is looked at). Then its notebook is a second notebook of the same nbgrader assignment, its items
extra columns of the same row: before step 2, `python -m nndl2.agent.export_faces` calls faces.py's functions in
the sandbox (its own wall limit, TimeBudget.faces) and grading/instructor/judging/judge_faces.py judges them here;
a submission without faces.py scores 0 on them ("no faces.py"). The Part 2 notebook itself is never run: when
the submission has one, it is rebuilt around Part 2's release like Part 1's, keeping the student's outputs
(their generated faces; made inert and size-limited by the autograde passes), and nbgrader autogrades it as
the assignment's second notebook without executing it, so formgrader shows the TA the answers and the samples.
Its samples and three answers are graded by hand (blank in grades.csv until a TA has). Without one, Part 2's
release stands in for it (not run, no feedback page), so that nbgrader's scoring pass writes faces.py's scores.

Every submission takes at most --submission-timeout seconds (TimeBudget): each run of its code gets a
wall limit drawn from what is left. A function export that runs out of time (a gan.py that hangs at
import) is the hang found once: the training runs are not started and the notebook imports a stand-in
gan.py that says why; the reason names the line of gan.py where it was (Python's faulthandler, set by the
grader's command, prints the tracebacks just before the wall limit), or the notebook's cell.

Every submission gets a row, whatever it does: an error while reading, compiling or grading one
submission becomes that row's reason and the batch goes on. Re-running is idempotent: an unchanged
submission is not graded again (--regrade forces it; a different --budget, --threads,
--submission-timeout or training precision grades it again) and grades.csv is rewritten from the gradebook.

Training uses the fixed budget of nndl2/budget.py ("autograde"), on the GPU when there is one;
--budget smoke runs a few iterations only (fast checks of everything but the image quality of Inline
Questions 1-3, which then fail). Every option is a field of one value, Settings (grading/instructor/settings.py),
built once in main() with every default stated there, and passed to autograde() and Grader.
"""

import argparse
import concurrent.futures
import contextlib
import csv
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from pathlib import Path
from typing import NamedTuple

import nbformat
import torch

from grading.course import NBGRADER, build_course, generate_assignment, going_further, nbgrader_env, part2
from grading.course.preprocessors.feedback_summary import NOTES
from grading.instructor.confine import launcher, sandbox
from grading.instructor.confine.limits import GiB, describe
from grading.instructor.intake.normalize import rebuild
from grading.instructor.intake.plainfiles import Refused, UnsafeArchive, quote
from grading.instructor.intake.submissions import collect, unpack
from grading.instructor.judging import answers, judge, judge_faces, trained, verdict
from grading.instructor.outputs import gradebook, lms
from grading.instructor.outputs.gradebook import Gradebooks
from grading.instructor.outputs.gradebook import url as gradebook_url
from grading.instructor.settings import (
    BUDGETS,
    INSIDE_FOLDER,
    PRECISION_CHOICES,
    SETTINGS_VARIABLE,
    Clock,
    Settings,
    TimeBudget,
    training_args,
)
from grading.kit import (
    ASSIGNMENT,
    FACES_NOTEBOOK,
    FACES_SOURCE_NOTEBOOK,
    KIT_DATA,
    NBGRADER_CONFIG,
    ROOT,
    SKIP_EXIT_GC,
    SOLUTION_FACES,
    SOLUTION_GAN,
    SOURCE_NOTEBOOK,
    digest,
)
from nndl2.agent import STOPPED_AFTER_ERROR
from nndl2.agent.replay import REPLAY
from nndl2.answers import EXPORTS
from nndl2.budget import iterations
from nndl2.items import BY_ID, GANS, quality_item

NOTEBOOK_NAME = f"{ASSIGNMENT}.ipynb"
ALIKE_TOOK = "--alike: the reference solution's runs took {:.1f} s"  # logged once a batch (grading_time reads it)
FACES_RELEASE = "gan-kit/release/" + FACES_SOURCE_NOTEBOOK.name  # Part 2's release, in the course folder
PROBLEMS_FILE = "problems.txt"  # the batch's problems: what the export held that is no student's


def notebook_limits(limit):
    """(cells' deadline, kernel's wall time, nbgrader's wall time) within a notebook stage of `limit` seconds.

    nbgrader starts before the kernel and writes the gradebook after it: each gets a margin of its own.
    """
    margin = min(120.0, limit / 5)
    return round(limit - margin, 1), round(limit - margin / 2, 1), limit


# The command the grader's runs of gan.py start (plain and sandboxed): `python -m nndl2.agent.export ARGS`, with
# Python's faulthandler set to print every thread's traceback to stderr shortly before the wall limit, and
# whenever the run gets SIGUSR1 (the launcher sends it shortly before a training run's GAN reaches its deadline:
# launcher.milestone_deadline), so that a run the launcher stops says where it was (hang_location reads it; the
# launcher decides). Part 2's runs of faces.py start nndl2.agent.export_faces the same way (WATCHDOG_FACES).
WATCHDOG = (
    f"{SKIP_EXIT_GC}; import faulthandler, runpy, signal, sys; "
    "faulthandler.dump_traceback_later(float(sys.argv.pop(1))); "
    "faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "runpy.run_module('nndl2.agent.export', run_name='__main__', alter_sys=True)"
)
WATCHDOG_FACES = WATCHDOG.replace("'nndl2.agent.export'", "'nndl2.agent.export_faces'")


class Ended(NamedTuple):
    """How one of the grader's runs of gan.py ended (Grader.export)."""

    reason: str  # why it ended badly, or ""
    where: str | None  # where it was when its time ran out (hang_location), or None when it did not run out
    limit: float | None  # the wall limit it was stopped at (with milestones: the share in force), or None
    reached: list  # with milestones: the seconds from its start at which each was reached
    code: int | None = None  # its exit status, where it exited (STOPPED_AFTER_ERROR: a GAN after the first raised)


def dump_after(limit):
    """When the watchdog prints the tracebacks: before the wall limit, leaving time for the sandbox's start."""
    return round(max(0.5, limit - min(5.0, limit / 5)), 1)


TRACEBACK_FRAME = re.compile(
    r'^\s*File "(?P<file>[^"\n]*)", line (?P<line>\d{1,7}) in (?P<function>[\w<>]{1,80})$', re.M
)


def hang_location(stderr, gan_py):
    """Where a run stopped at its wall limit was, from the watchdog's last dump in `stderr` (its timer's, or the one
    SIGUSR1 asked for: then the thread that got the signal, the main one): a phrase or ''.

    The innermost frame in gan.py when there is one ("at line 3 of gan.py, `while True: pass`, importing
    it"), else the innermost frame. The line's text is read from the grader's copy of gan.py (`gan_py`;
    Part 2's faces.py the same way, by its name).
    The text comes from the student's process: it locates a hang the launcher observed, and decides nothing.
    """
    module = Path(gan_py).name
    start = max(stderr.rfind("Timeout ("), stderr.rfind("Current thread 0x"))  # the watchdog's, or SIGUSR1's
    if start < 0:
        return ""
    frames = [m.groupdict() for m in TRACEBACK_FRAME.finditer(stderr, start)]
    if not frames:
        return ""
    in_gan = [f for f in frames if Path(f["file"]).name == module]
    frame = in_gan[0] if in_gan else frames[0]  # faulthandler prints the most recent call first
    line = int(frame["line"])
    if not in_gan:
        return f"at line {line} of {quote(Path(frame['file']).name, 60)}, in {frame['function']}"
    try:
        text = Path(gan_py).read_text(errors="replace").splitlines()[line - 1].strip()
    except (OSError, IndexError):
        text = ""
    where = "importing it" if frame["function"] == "<module>" else f"in {frame['function']}"
    return f"at line {line} of {module}" + (f", {quote(text, 80)}" if text else "") + f", {where}"


def item_numbers(numbers):
    """'item 3' / 'items 1-6, 8-12' for the grades.csv column numbers `numbers`."""
    numbers = sorted(numbers)
    spans = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)
    return f"item{'s' if len(numbers) > 1 else ''} {text}"


def graded_items():
    """[(grade_id, points, autograded)] in notebook order: the columns of grades.csv.

    Part 1's items, then Part 2's when it is graded (FACES_POINTS > 0): its functions autograded, its
    answers and its samples (an nbgrader task) by hand."""
    notebooks = [going_further.course_notebook()]  # the reflections of "Going further" may carry points
    if part2.graded():
        notebooks.append(part2.course_notebook())
    items = []
    for cell in (cell for notebook in notebooks for cell in notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            autograded = cell.cell_type == "code" and not meta.get("solution") and not meta.get("task")
            items.append((meta["grade_id"], float(meta["points"]), autograded))
    return items


def untrained(grade_id, cause):
    """The message of an Inline Question 1-3 whose GAN the grader could not train."""
    return f"Inline Question {BY_ID[grade_id].question}: not trained: {cause}."


def column(grade_id):
    return grade_id.removeprefix("test_")


def by_hand():
    """Part 2's items graded by hand, when Part 2 is graded: no score until a TA gives one (else none)."""
    return tuple(part2.HAND_ITEMS) if part2.graded() else ()


def checksum(paths):
    """sha256 of the files under `paths` (names and contents), caches and downloaded data left out."""
    return digest(paths, skip=("__pycache__", "MNIST"))


def compile_problem(data):
    """None if gan.py (bytes) compiles, else the reason; any error compile() raises counts (RecursionError...)."""
    try:
        compile(data, "gan.py", "exec")
    except SyntaxError as error:
        return f"gan.py does not parse (line {error.lineno}: {error.msg})"
    except Exception as error:  # RecursionError, MemoryError, ValueError (null bytes)...
        return f"gan.py does not compile ({type(error).__name__})"
    return None


# The files whose change changes a score: a change to any of them grades every submission again (manual
# grades are kept). Documentation, the TA tools and the batch machinery (this file, the sandbox, LMS
# import and export) are not among them.
GRADING_FILES = (
    SOURCE_NOTEBOOK,
    SOLUTION_GAN,
    NBGRADER_CONFIG,
    ROOT / "grading" / "course" / "going_further.py",  # the reflections' points
    ROOT / "grading" / "course" / "items.py",  # which grade ids are gan.py's functions (the judge reads it)
    ROOT / "gan.py",
    KIT_DATA,
    ROOT / "grading" / "course" / "preprocessors",
    ROOT / "grading" / "instructor" / "judging" / "judge.py",
    ROOT / "grading" / "instructor" / "judging" / "answers.py",
    ROOT / "grading" / "instructor" / "judging" / "verdict.py",
    ROOT / "grading" / "instructor" / "judging" / "judged_grades.py",  # the scores' pass of nbgrader_config.py
    ROOT / "grading" / "instructor" / "intake" / "normalize.py",
)
# With Part 2 graded (only then: with FACES_POINTS = 0 the course's checksum is Part 1's alone).
FACES_GRADING_FILES = (
    FACES_SOURCE_NOTEBOOK,
    SOLUTION_FACES,
    ROOT / "grading" / "course" / "part2.py",  # FACES_POINTS
    ROOT / "grading" / "instructor" / "judging" / "judge_faces.py",
)


def grading_files():
    return GRADING_FILES + (FACES_GRADING_FILES if part2.graded() else ())


@dataclasses.dataclass
class Run:
    """What grading one submission accumulates (one per submission: threads share nothing mutable)."""

    submission: object
    work: Path
    clock: Clock
    staged: dict = dataclasses.field(default_factory=dict)  # "notebook" / "gan" -> the grader's copy
    reasons: list = dataclasses.field(default_factory=list)
    verdicts: dict = dataclasses.field(default_factory=dict)
    phases: dict = dataclasses.field(default_factory=dict)  # seconds per step
    causes: dict = dataclasses.field(default_factory=dict)  # grade id -> the row's note that cost it its points
    reused: list = dataclasses.field(default_factory=list)  # the GANs whose earlier training was reused (trained.py)
    alike: list = dataclasses.field(default_factory=list)  # the GANs handed a trusted solution's run (trained.Alike)
    alike_of: dict = dataclasses.field(default_factory=dict)  # {gan: the Alike.id of the solution whose run it is}

    def lost(self, items, cause, message=None):
        """Items scored 0 for one cause: the cause once in the row's reason, each item's message in the feedback."""
        if cause not in self.reasons:
            self.reasons.append(cause)
        for item in items:
            self.verdicts[item] = verdict.Verdict(False, message(item) if message else f"{cause}.")
            self.causes[item] = cause

    @property
    def student(self):
        return self.submission.key

    @contextlib.contextmanager
    def timed(self, phase):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[phase] = round(self.phases.get(phase, 0.0) + time.perf_counter() - start, 1)


class Grader:
    """One nbgrader course under `out`/course that every submission of a batch is graded in."""

    def __init__(self, out, settings=None, submissions=None, log=print):
        self.out, self.settings, self.log = Path(out).resolve(), settings or Settings(), log
        self.submissions = Path(submissions).resolve() if submissions else None
        self.course = self.out / "course"
        self.gradebooks = Gradebooks(self.course)
        self.mnist_root = self.settings.mnist_root
        self.kept = trained.Kept(self.out / "trained", self.settings.training(), self.settings.threads, self.mnist_root)
        # the trusted solutions whose runs --alike hands on: the reference's first, then the styles' (trained.Alike)
        self.alike = [trained.Alike(self.out / "trained", self.kept, *source) for source in trained.trusted().items()]
        self.probe = {}  # {gan: iterations} probed against the trusted solutions' probes (prepare_alike)
        self.training_trusted = threading.Lock()  # one style's run trains once, whoever needs it first
        self.failed = set()  # (solution, gan): trusted runs that did not end well this batch (not trained again)
        self.sandboxed = self.settings.sandbox == "on"
        if self.sandboxed:
            self.confinement = sandbox.require()  # SandboxUnavailable says how to install bubblewrap or opt out
            if self.confinement == "uid":  # no namespaces: the grader's files are kept from the run's user by modes
                self.out.mkdir(parents=True, exist_ok=True)
                for path in (self.out, self.submissions, ROOT):
                    sandbox.protect(path, keep=sandbox.python_folders())
                self.log(f"WARNING: {sandbox.UID_NOTE}.")
        else:
            self.confinement = "off"
            print(
                "WARNING: --sandbox off: student code runs unconfined, as the grader's user, and can read "
                "the solution, other submissions and anything else that user can.",
                file=sys.stderr,
            )
        self.settings_file = self.settings.write_inside(self.out / "settings")  # handed to every run of student code
        self.items = graded_items()
        self.points = {grade_id: points for grade_id, points, _ in self.items}
        self.kit = checksum(grading_files())
        self.expected = answers.expected_answers()

    # -- the course -------------------------------------------------------------------------
    def prepare(self):
        """Build the course and its gradebook, or update them when the grading files changed (grades kept)."""
        stamp = self.course / "kit.sha256"
        if stamp.exists() and stamp.read_text() == self.kit:
            self.gradebooks.reset()
            return
        if self.course.exists():
            self.log("the grading files changed since the last run: every submission is graded again "
                     "(grades entered by hand are kept)")  # fmt: skip
        notebooks = {ASSIGNMENT} | ({FACES_SOURCE_NOTEBOOK.stem} if part2.graded() else set())
        changed = gradebook.notebooks_changed(self.gradebooks.main, notebooks)
        if changed:
            raise SystemExit(
                f"{self.out}: {changed}; nbgrader cannot add or remove a notebook of an assignment that has "
                "submissions: grade into a new --out folder, or set FACES_POINTS (grading/course/part2.py) back"
            )
        build_course(self.course)
        faces_notebook = self.course / "source" / ASSIGNMENT / FACES_SOURCE_NOTEBOOK.name
        if part2.graded():  # Part 2: a second notebook of the same assignment (its grade cells, never run)
            nbformat.write(part2.course_notebook(), faces_notebook)
        generate_assignment(self.course)
        if part2.graded():  # the release a submitted Part 2 notebook is rebuilt around (no solution in it)
            (self.course / FACES_RELEASE).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.course / "release" / ASSIGNMENT / FACES_SOURCE_NOTEBOOK.name, self.course / FACES_RELEASE)
        # Autograde needs no source notebook (locked cells come from the gradebook): keep the
        # solutions off the disk the submissions run next to.
        (self.course / "source" / ASSIGNMENT / NOTEBOOK_NAME).unlink()
        faces_notebook.unlink(missing_ok=True)
        shutil.rmtree(self.course / "release", ignore_errors=True)
        self.gradebooks.reset()
        stamp.write_text(self.kit)

    def prepare_alike(self, submissions, kept_only=False):
        """--alike: train the reference solution first as a submission is trained (sandboxed, these settings), unless
        its runs are kept, and probe the styles' solutions (trained.trusted), so that each submission's GAN that trains
        as one of them does for trained.PROBE iterations goes on with its run instead of training the whole budget
        (trained.Alike; a style's run trains when a submission first needs it, or before: train_styles). "auto": for
        a batch of at least trained.ALIKE_BATCH submissions. kept_only: train and probe nothing, use what was kept
        before (Gradescope's setup.sh keeps it for every container): without the reference's runs --alike is off; a
        style's GAN kept without its run is not handed on. Sets self.probe."""
        mode, settings = self.settings.alike, self.settings
        if mode == "off" or (mode == "auto" and submissions < trained.ALIKE_BATCH):
            return
        if not self.sandboxed:  # unconfined, one student's code could rewrite the runs handed to the others
            self.log("--alike: off, as --sandbox is off")
            return
        if settings.device != "cpu" or settings.precision != "float32" or settings.whole_budget:
            self.log("--alike: off: its evidence (grading/ta/alike.md) is for CPU training in float32 that stops "
                     "when the thresholds are met")  # fmt: skip
            return
        probe = {gan: n for gan, n in trained.PROBE.items() if n < iterations(gan, settings.budget)}  # smoke: none
        reference, styles = self.alike[0], self.alike[1:]
        missing = [gan for gan in probe if not reference.has_run(gan)]
        unprobed = [style for style in styles if any(style.digest(gan) is None for gan in probe)]
        if kept_only and missing:
            self.log("--alike: off: the reference solution's runs were not kept for this CPU kind, PyTorch and these "
                     "settings (when the autograder was set up): every GAN trains")  # fmt: skip
            return
        if kept_only:  # what was kept, as it is: a style probed without its run never trains here (self.failed)
            self.failed |= {(s.name, gan) for s in styles for gan in probe if s.digest(gan) and not s.has_run(gan)}
            missing, unprobed = [], []
        for gan in missing:  # an older folder's probe of it, kept without its run, must not stand for the new run
            reference.forget(gan)
        if missing:
            self.log(f"--alike: training the reference solution's {', '.join(missing)} first (submissions whose GANs "
                     "train bit for bit as its do go on with its runs)")  # fmt: skip
        steps = [lambda: self.train_trusted(reference, missing, probe)] if missing else []
        steps += [lambda: self.probe_styles(unprobed, probe)] if unprobed else []
        # one thread each (the styles' probes beside the reference's training), as --jobs lets two submissions run
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(2, settings.workers)) as pool:
            for done in [pool.submit(step) for step in steps]:
                done.result()
        self.probe = {gan: n for gan, n in probe.items() if any(source.digest(gan) for source in self.alike)}

    def train_styles(self):
        """Train now (after prepare_alike) each style's GANs that a submission may be handed: those whose probe no
        solution before it has, not kept yet. Where every submission is graded in a container of its own
        (Gradescope), setup.sh trains them once instead of a container each."""
        for number, source in enumerate(self.alike[1:], 1):
            earlier = self.alike[:number]
            gans = [gan for gan in self.probe if source.digest(gan) and not source.has_run(gan)
                    and all(other.digest(gan) != source.digest(gan) for other in earlier)]  # fmt: skip
            if gans:
                self.train_trusted(source, gans)

    def trusted_run(self, source):
        """A Run of trusted solution `source` (trained.Alike) in its own work folder, its gan.py staged there."""
        solution = types.SimpleNamespace(key=source.name, problems=[], files={})
        run = Run(solution, source.root / "work", self.settings.time.start())
        shutil.rmtree(run.work, ignore_errors=True)
        stage(source.gan_py, run.work / "assignment", "gan.py")
        return run

    def train_trusted(self, source, gans, probe=None):
        """Train trusted solution `source`'s `gans` as a submission's (sandboxed, these settings) and keep each run
        that ends well with its probe (trained.Alike.keep); a run that does not is logged and not trained again this
        batch (self.failed): no submission's GAN goes on with it, each trains itself."""
        probe = probe or self.probe
        run = self.trusted_run(source)
        # (an error starting the sandbox stops the batch here, as it would at the first submission)
        out = run.work / "exports" / "training"
        out.mkdir(parents=True)
        probes = [f"{gan}={probe[gan]}" for gan in gans]
        start = time.perf_counter()
        # trusted code: the whole time budget of a submission for its training alone; each GAN's export is
        # written when it is trained, so one that is there stands even if the run ended later
        ended = self.export(
            run, "training", lambda o: [*training_args(gans, o), "--probe", *probes], out, self.settings.time.total
        )
        for gan in gans:
            export = out / gan / f"{gan}.npz"
            meta = exported(export)
            probe_file = out / gan / f"{gan}.probe.npz"
            if meta is None or "error" in meta or not source.keep(gan, probe_file, export):
                why = "its export records an error" if meta and "error" in meta else ended.reason or "no export"
                why = why if meta is None or "error" in meta else "another probe than the one noted, or none"
                self.log(f"WARNING: --alike: {source.whose} {gan} run did not end well ({why}; {run.work}): no "
                         f"submission's {gan} goes on with it")  # fmt: skip
                self.failed.add((source.name, gan))
        shutil.rmtree(run.work / "exports", ignore_errors=True)
        if source.name == trained.REFERENCE:
            self.log(ALIKE_TOOK.format(time.perf_counter() - start))
        else:
            self.log(f"--alike: {source.whose} {', '.join(gans)} run took {time.perf_counter() - start:.1f} s (once)")

    def probe_styles(self, styles, probe):
        """Probe each style's solution (trained.Alike, one sandboxed --probe-only run each) and note its digests."""
        start, probes = time.perf_counter(), [f"{gan}={n}" for gan, n in probe.items()]
        for source in styles:
            run = self.trusted_run(source)
            out = run.work / "exports" / "probe"
            out.mkdir(parents=True)
            ended = self.export(
                run, "probe", lambda o: [*training_args(list(probe), o), "--probe-only", "--probe", *probes], out,
                self.settings.time.total,
            )  # fmt: skip
            for gan in [gan for gan in probe if source.digest(gan) is None]:  # a kept run keeps its stamp
                if not source.note(gan, out / gan / f"{gan}.probe.npz"):
                    self.log(f"WARNING: --alike: {source.whose} {gan} probe did not end well "
                             f"({ended.reason or 'no probe'}; {run.work})")  # fmt: skip
            shutil.rmtree(run.work / "exports", ignore_errors=True)
        self.log(f"--alike: the styles' probes ({', '.join(s.name for s in styles)}) took "
                 f"{time.perf_counter() - start:.1f} s")  # fmt: skip

    def env(self, student, exports=None, replay=None):
        unwanted = {"PYTHONPATH", "GAN_KIT_BUDGET", SETTINGS_VARIABLE, "JUPYTER_PATH", EXPORTS, REPLAY}
        env = nbgrader_env({k: v for k, v in os.environ.items() if k not in unwanted})
        env.update(self.settings.inside_env(self.settings_file))  # the settings file and threads, as sandboxed
        if self.mnist_root:
            env["MNIST_ROOT"] = str(self.mnist_root)
        if exports:
            env[EXPORTS] = str(exports)
        if replay:
            env[REPLAY] = str(replay)
        env["JUPYTER_PATH"] = str(self.course / "kernels" / student)  # the student's sandbox kernelspec
        return env

    def export(self, run, step, args, exports, timeout, folder="assignment", module="gan.py", gpu=False,
               milestones=()):  # fmt: skip
        """`python -m nndl2.agent.export <args>` on the staged gan.py, into `exports`, stopped after `timeout` s.

        `args` is a function of the exports folder's path as the command sees it (/exports in the sandbox).
        `folder` (under the run's work folder) is where it runs; `module` "faces.py" runs nndl2.agent.export_faces;
        `gpu`: the sandbox gets the GPU's device nodes. `milestones`: files under the exports folder the command
        writes one after the other (each GAN's export): `timeout` is then shared among them
        (launcher.milestone_deadline), and the run is stopped at the deadline of the first it does not reach.
        Returns an Ended: the reason or '', where it was when its time ran out or None when it did not run out,
        the limit it was stopped at (None when it was not) and when each milestone was reached.
        """
        assignment = run.work / folder
        log = run.work / f"{step}.log"
        watchdog = ["-c", WATCHDOG_FACES if module == "faces.py" else WATCHDOG, str(dump_after(timeout))]
        if not self.sandboxed:
            env = self.env(run.student)  # with the sandboxed runs' variables (Settings.inside_env)
            command = [sys.executable, *watchdog, *args(exports)]
            if milestones:
                code, output, reached, limit = run_with_milestones(
                    command, assignment, env, timeout, milestones, exports
                )
            else:
                (code, output), reached, limit = run_process(command, assignment, env, timeout), [], timeout
            log.write_text(output)
            if code is not None:
                return Ended("", None, None, reached, code)
            where = hang_location(output, assignment / module)
            return Ended(f"time limit ({limit:g} s) reached", where, limit, reached)
        box = sandbox.Sandbox(
            assignment, exports=exports, data=self.mnist_root, binds=self.inside_binds(), env=self.inside_env(),
            limits=dataclasses.replace(self.settings.limits, wall_time=timeout), gpu=gpu,
        )  # fmt: skip
        command = [box.layout.python, *watchdog, *args(sandbox.EXPORTS)]
        outcome = sandbox.run(command, box, run.work / f"{step}.outcome.json", milestones=milestones)
        log.write_text(outcome.stdout + outcome.stderr)
        if outcome.error:
            raise RuntimeError(f"the sandbox could not start: {outcome.error}")
        reached = outcome.data.get("milestones") or []
        if "wall_time" not in outcome.limits_hit:
            return Ended(outcome.reason, None, None, reached, outcome.exit_code)
        limit = outcome.data.get("wall_limit") or timeout
        return Ended(outcome.reason, hang_location(outcome.stderr, assignment / module), limit, reached)

    def inside_binds(self):
        """The sandbox's read-only folder of the settings file (INSIDE_FOLDER)."""
        return {INSIDE_FOLDER: self.settings_file.parent}

    def inside_env(self):
        """The variables of every sandboxed run (Settings.inside_env), the settings file as the sandbox shows it."""
        return self.settings.inside_env(f"{INSIDE_FOLDER}/{self.settings_file.name}")

    def nbgrader(self, student, command, *options, db, timeout=None, env=None):
        """Run `nbgrader <command>` for one student on gradebook `db`, in its own process group; (returncode, log)."""
        argv = [*NBGRADER, command, ASSIGNMENT, f"--student={student}", "--force", *options]
        argv += [f"--CourseDirectory.root={self.course}", f"--db={gradebook_url(db)}"]
        if command == "autograde":
            argv.append("--ReplayTraining.replay=True")
        return run_process(argv, self.course, env or self.env(student), timeout)

    # -- one submission ---------------------------------------------------------------------
    def grade(self, submission):
        """Grade one submission; never raises: whatever goes wrong becomes the row's reason."""
        start = time.perf_counter()
        run = Run(submission, self.out / "work" / submission.key, self.settings.time.start())
        try:
            return self._grade(run, start)
        except Exception as error:  # the grader's own failure on this submission: a row, and the batch goes on
            self.log(f"{quote(submission.key)}: grading failed: {traceback.format_exc(limit=3)}")
            run.reasons.append(f"grading failed ({type(error).__name__}: {quote(str(error), 200)})")
            return self.save(run, None, {}, start)

    def stage_files(self, run):
        """Copy the submission's files into work/staged as plain files (a refusal becomes a reason)."""
        shutil.rmtree(run.work, ignore_errors=True)
        (run.work / "staged").mkdir(parents=True)
        run.reasons.extend(run.submission.problems)  # they already say "missing gan.py"
        for kind in sorted(run.submission.files):
            names = {"gan": "gan.py", "faces": "faces.py", "faces_notebook": FACES_SOURCE_NOTEBOOK.name}
            target = run.work / "staged" / names.get(kind, NOTEBOOK_NAME)
            try:
                run.submission.copy(kind, target)
                run.staged[kind] = target
            except Refused as error:
                run.reasons.append(str(error))

    def _grade(self, run, start):
        student = run.student
        self.stage_files(run)
        # a new time budget or confinement (bwrap, uid, off: its note is on the row) grades it again
        settings = f"{self.settings.key()}/{self.confinement}"
        key = hashlib.sha256((self.kit + checksum(run.staged.values()) + settings).encode())
        key = key.hexdigest()
        result_path = self.out / "results" / f"{student}.json"
        if result_path.exists() and not self.settings.regrade:
            previous = json.loads(result_path.read_text())
            if self.reusable(previous, key):
                return self.reuse(run, previous, result_path)

        exports = run.work / "exports"
        for folder in ("functions", "training", "notebook"):
            (exports / folder).mkdir(parents=True)
        if part2.graded():
            self.grade_faces(run)
        gan_problem = compile_problem(run.staged["gan"].read_bytes()) if "gan" in run.staged else None
        hung = None
        if "gan" in run.staged and not gan_problem:
            hung = self.run_exports(run)
        else:
            run.lost([*judge.FUNCTION_ITEMS, *judge.QUALITY_ITEMS], gan_problem or "missing gan.py")

        copy = self.gradebooks.working_copy(student)
        # nbgrader's pipeline scores every item from the judge's verdicts (judged_grades.py), the answers' included
        judged = self.run_notebook(run, copy, hung)
        self.write_notes(student, run.reasons)
        if judged is not None:
            run.verdicts.update({item: found for item, found in judged.items() if found is not None})
            with run.timed("feedback"):
                self.feedback(student, copy, run.clock.feedback(), faces="faces_notebook" in run.staged)
            self.gradebooks.merge(copy, student)
            scores = gradebook.scores(self.gradebooks.main, student)
        else:  # nbgrader never scored the notebook: the row alone, judged here (no gradebook entry, no feedback)
            self.gradebooks.discard(copy)
            run.verdicts.update(answers.judge_answers(exports / "notebook", self.expected))
            scores = {item: self.points[item] if found.passed else 0.0 for item, found in run.verdicts.items()}
            scores |= dict.fromkeys(by_hand())
        shutil.rmtree(exports / "training", ignore_errors=True)  # trained weights: tens of MB, judged already
        result = self.save(run, key, scores, start)
        return result

    def alike_ids(self):
        """The Alike.id of each trusted solution whose runs this batch hands on (none when --alike is off)."""
        return {source.id for source in self.alike} if self.probe else set()

    def reusable(self, previous, key):
        """Whether an earlier result stands: graded from the same files and settings (`key`), and every trusted
        solution's run it was handed (--alike) one this batch hands on too."""
        handed = previous.get("alike_of") or {}
        if previous.get("alike") and len(handed) != len(previous["alike"]):  # from before alike_of was kept
            return False
        return previous.get("key") == key and set(handed.values()) <= self.alike_ids()

    def reuse(self, run, previous, result_path):
        """An unchanged submission: its earlier result, with the gradebook's current (manual) scores."""
        student = run.student
        previous["scores"] = {**previous["scores"], **gradebook.scores(self.gradebooks.main, student)}
        previous["lms"] = lms.extra_columns(run.submission)
        state = json.dumps(gradebook.manual_state(self.gradebooks.main, student), default=str)
        if previous.get("manual_state") != state:  # a TA graded by hand since: the feedback says so now
            self.write_notes(student, [note for note in previous.get("reason", "").split("; ") if note])
            copy = self.gradebooks.working_copy(student)
            self.feedback(student, copy, run.clock.feedback(), faces="faces_notebook" in run.staged)
            self.gradebooks.discard(copy)
            previous["manual_state"] = state
            self.log(f"{quote(student)}: grades entered by hand changed: feedback made again")
        else:
            self.log(f"{quote(student)}: unchanged, reusing the earlier grading")
        result_path.write_text(json.dumps(previous, indent=1))
        return previous

    def run_exports(self, run):
        """The sandboxed function export and training runs (Grader.train), judged here (into run.verdicts)."""
        work = run.work
        assignment, exports = work / "assignment", work / "exports"
        stage(run.staged["gan"], assignment, "gan.py")
        inputs = judge.draw_inputs()
        judge.save_inputs(work / "inputs.npz", inputs)  # the grader's copy: the sandbox gets another one
        judge.save_inputs(exports / "functions" / "inputs.npz", inputs)
        limit = run.clock.functions()
        with run.timed("functions"):
            reason, where, *_ = self.export(
                run, "functions", lambda out: ["functions", "--inputs", f"{out}/inputs.npz", "--out", str(out)],
                exports / "functions", limit,
            )  # fmt: skip
        run.verdicts.update(judge.judge_functions(exports / "functions", inputs))
        if where is not None:  # a hang, found once: the training runs and the notebook would hang the same way
            return self.hung(run, limit, where, exports / "functions")
        if reason:
            run.reasons.append(f"the grader's run of gan.py's functions: {reason}")
        if not import_succeeded(exports / "functions"):  # the training runs would fail at the same import
            cause = run.verdicts[next(iter(judge.FUNCTION_ITEMS))].message.rstrip(".")  # the judge's sentence
            run.lost(judge.FUNCTION_ITEMS, cause, lambda item: run.verdicts[item].message)
            run.lost(judge.QUALITY_ITEMS, cause, lambda item: untrained(item, cause))
            return None
        pending = []
        for gan in GANS:
            stub = judge.unimplemented(run.verdicts, gan)
            if stub:  # the untouched stub can only raise: training would fail at once
                item = quality_item(gan).grade_id
                run.verdicts[item] = verdict.Verdict(False, untrained(item, stub))
                continue
            folder = exports / "training" / gan
            folder.mkdir(parents=True, exist_ok=True)
            if self.kept.get(run.student, gan, assignment / "gan.py", folder, alike=self.alike_ids()):  # trained before
                run.reused.append(gan)
                continue
            pending.append(gan)
        if pending and self.probe:
            pending = self.go_on_alike(run, pending, assignment / "gan.py", exports / "training")
        if pending:
            self.train(run, pending, assignment / "gan.py", exports / "training")
        if run.reused:
            self.log(f"{quote(run.student)}: gan.py unchanged since it was trained: reusing the trained "
                     f"{', '.join(run.reused)} (grading/instructor/judging/trained.py)")  # fmt: skip
        with run.timed("judge"):
            trained = judge.judge_training(exports / "training", run.verdicts)
            run.verdicts.update({item: v for item, v in trained.items() if item not in run.verdicts})
        return None

    def go_on_alike(self, run, gans, gan_py, training):
        """Probe `gans` (a sandboxed run of trained.PROBE iterations each, as the training run starts): each whose G
        then holds a trusted solution's weights bit for bit (the reference's, or a style's) is handed that
        solution's run (trained.Alike) into `training`/<gan>/, and kept for re-grades as a run of this gan.py is
        (Kept); returns the GANs still to train. A probe that fails or differs costs its time only; a style's run
        that trains first for this submission costs it nothing."""
        probed = [gan for gan in gans if gan in self.probe]
        if not probed:
            return gans
        out = training.parent / "probe.run"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        probes = [f"{gan}={self.probe[gan]}" for gan in probed]
        start = time.monotonic()
        with run.timed("probe"):
            ended = self.export(
                run, "probe", lambda o: [*training_args(probed, o), "--probe-only", "--probe", *probes], out,
                run.clock.functions(),
            )  # fmt: skip
        took = time.monotonic() - start
        handed = {}
        for gan in probed:
            probe = out / gan / f"{gan}.probe.npz"
            inside = probe.resolve().is_relative_to(out.resolve())
            digest = trained.probe_digest(probe) if inside and probe.is_file() else None
            found = [s for s in self.alike if (s.name, gan) not in self.failed and s.digest(gan) == digest]
            if digest is not None and found and self.hand_on(run, found[0], gan, digest, training / gan):
                run.alike.append(gan)
                run.alike_of[gan] = found[0].id
                handed.setdefault(found[0], []).append(gan)
                self.kept.keep(run.student, gan, gan_py, training / gan, alike=found[0].id)
        shutil.rmtree(out, ignore_errors=True)
        if ended.where is None and len(run.alike) < len(probed):  # the GANs that train lose no time to the probe
            run.clock.started += took
        for source, gans_handed in handed.items():
            self.log(f"{quote(run.student)}: the {', '.join(gans_handed)} trained bit for bit as {source.whose} for "
                     "their first iterations: going on with its runs (--alike)")  # fmt: skip
        return [gan for gan in gans if gan not in run.alike]

    def hand_on(self, run, source, gan, digest, into):
        """Copy trusted solution `source`'s run of `gan` into `into` (trained.Alike.get) for a submission whose probe
        has `digest`, training that run first if it is not kept (a style's, the first time one is needed: the time
        is given back to the submission's clock). True if it did."""
        if not source.has_run(gan):
            start = time.monotonic()
            with self.training_trusted:
                if not source.has_run(gan) and (source.name, gan) not in self.failed:
                    try:
                        self.train_trusted(source, [gan])
                    except RuntimeError as error:  # the sandbox did not start: this submission trains itself
                        self.log(f"WARNING: --alike: {source.whose} {gan} run: {error}")
                        self.failed.add((source.name, gan))
            run.clock.started += time.monotonic() - start  # trusted work, not this submission's
        return source.get(gan, digest, into)

    def train(self, run, gans, gan_py, training):
        """The grader's training runs of `gans` (in notebook order) with the staged gan.py, into `training`/<gan>/.

        The GANs train in one sandboxed run, one after the other as the notebook trains them in one kernel: one
        process start, one import of PyTorch, gan.py and torchmetrics, MNIST read once. The run's time is held GAN by
        GAN, each GAN's export its milestone (launcher.milestone_deadline): each may take its share of the time left
        when the one before it finished, what a run of its own would get at that moment (Clock.training; 238 s for
        the first at the default time budget). So:

        - the first GAN ran as it would have alone (nothing trained before it): whatever happened to it stands;
        - a later GAN stopped at its deadline had the time a run of its own would have had: that stands too;
        - a later GAN the run did not train for another reason (the run died or hit a limit first, or its export
          records an error, which sharing the process might have caused: the run then ends there,
          nndl2.agent.STOPPED_AFTER_ERROR) trains again, first in a run of the GANs still to train, with the
          time left shared the same way; so do the GANs after the one the run ended in. Which GAN a deadline stopped
          is the launcher's count of the milestones it saw, not the exports found afterwards.

        Each run writes into a folder of its own, and only its own GANs' exports are taken from it. So one GAN's
        failure costs the others time, never their verdict. A GAN is kept for re-grades (trained.py) when its run
        ended well (or at a later GAN's error), or when it finished before its run was stopped at a later GAN's
        deadline.
        `--run-per-gan` (Settings.run_per_gan) trains each GAN in a run of its own with its share (the design before).
        """
        cuda = self.settings.device == "cuda"
        pending, step = list(gans), "training"
        while pending:
            names = pending[:1] if self.settings.run_per_gan else pending
            out = training.parent / f"{step}.run"  # this run's own folder: only its GANs' exports leave it
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            milestones = [f"{gan}/{gan}.npz" for gan in names] if len(names) > 1 else []
            limit = run.clock.training(1 if milestones else len(pending))  # with milestones, the GANs share it
            with run.timed("training"):
                ended = self.export(
                    run, step, functools.partial(training_args, names), out, limit, gpu=cuda, milestones=milestones
                )
            files = {gan: out / gan / f"{gan}.npz" for gan in names}
            metas = {gan: exported(f) if f.is_file() and not f.is_symlink() else None for gan, f in files.items()}
            reason = ended.reason
            if ended.where is not None:
                reason = f"it did not finish in {ended.limit:g} s" + (f" (it was {ended.where})" if ended.where else "")
            stopped = next((gan for gan in names if metas[gan] is None), None)  # the GAN the run ended in
            # Stopped at that GAN's own deadline: the launcher's count of the milestones reached says which it was
            # (one alone: its only one); any other mismatch is a run that died there.
            at_deadline = (
                ended.where is not None
                and stopped is not None
                and (len(names) == 1 or names.index(stopped) == len(ended.reached))
            )
            before = names[: names.index(stopped)] if stopped else names
            again = [gan for gan in before[1:] if "error" in metas[gan]]  # sharing the run may have caused it
            trained = [gan for gan in before if gan not in again]
            stands = stopped is not None and (stopped == names[0] or at_deadline)  # as it would have alone
            for gan in trained:  # only the exports whose outcome stands leave the run's folder
                (training / gan).mkdir(parents=True, exist_ok=True)
                os.replace(files[gan], training / gan / f"{gan}.npz")
            shutil.rmtree(out, ignore_errors=True)
            if stands:
                self.finished(run, [stopped], reason, gan_py, training)
            if stopped is None and reason:  # every GAN exported, then the run hit a limit: noted, none kept
                self.finished(run, trained, reason, gan_py, training)
            # The run ended well: at its end, or where a later GAN's error ended it (nndl2.agent.export).
            ended_well = not reason and (stopped is None or ended.code == STOPPED_AFTER_ERROR)
            if trained and (ended_well or at_deadline):
                self.finished(run, trained, "", gan_py, training)
            retried = again + [gan for gan in names if gan not in before and not (stands and gan == stopped)]
            pending = sorted(retried + pending[len(names) :], key=gans.index)
            if retried:
                self.log(f"{quote(run.student)}: the {', '.join(retried)} did not train in the grader's training run"
                         f"{f' ({reason})' if reason else ''}: training again")  # fmt: skip
            step = f"training-{pending[0]}" if pending else step

    def finished(self, run, names, reason, gan_py, training):
        """The outcome of the training of `names`: their reason noted, or (none) they are kept for re-grades."""
        if reason:
            titles = [GANS[gan].title for gan in names]
            listed = " and ".join([", ".join(titles[:-1]), titles[-1]] if len(titles) > 1 else titles)
            run.reasons.append(f"the grader's training run of the {listed}: {reason}")
            return
        for gan in names:
            self.kept.keep(run.student, gan, gan_py, training / gan)

    def grade_faces(self, run):
        """Part 2: the sandboxed export of faces.py's functions, judged here (into run.verdicts)."""
        if "faces" not in run.staged:
            run.lost(part2.FUNCTION_ITEMS, "no faces.py")
            return
        folder, exports = run.work / "faces", run.work / "exports" / "faces"
        exports.mkdir(parents=True)
        stage(run.staged["faces"], folder, "faces.py")
        inputs = judge_faces.draw_inputs()
        judge.save_inputs(exports / "inputs.npz", inputs)  # the sandbox's copy: the judge uses its own (inputs)
        limit = run.clock.faces()
        with run.timed("faces"):
            reason, where, *_ = self.export(
                run, "faces", lambda out: ["--inputs", f"{out}/inputs.npz", "--out", str(out)], exports, limit,
                folder="faces", module="faces.py",
            )  # fmt: skip
        verdicts = judge_faces.judge_functions(exports, inputs)
        if where is not None:
            cause = f"the grader's run of faces.py did not finish in {limit:g} s"
            cause += f" (it was {where})" if where else ""
            missing = [item for item, name in part2.FUNCTION_ITEMS.items() if not (exports / f"{name}.npz").exists()]
            run.verdicts.update({item: v for item, v in verdicts.items() if item not in missing})
            run.lost(missing, cause, lambda item: f"{part2.FUNCTION_ITEMS[item]}: not graded: {cause}.")
            return
        if reason:
            run.reasons.append(f"the grader's run of faces.py's functions: {reason}")
        run.verdicts.update(verdicts)

    def hung(self, run, limit, where, functions):
        """The function export ran out of time: its unexported items and Inline Questions 1-3 lost for that cause.

        The training runs import the same gan.py and call the same functions: they are not started. The
        notebook runs with a stand-in gan.py (run_notebook) so its answers still count. Returns the cause.
        """
        importing = where.endswith("importing it") or not (functions / "module.npz").exists()
        what = "the grader's import of gan.py" if importing else "the grader's run of gan.py's functions"
        cause = f"{what} did not finish in {limit:g} s" + (f" (it was {where})" if where else "")
        missing = [item for item, name in judge.FUNCTION_ITEMS.items() if not (functions / f"{name}.npz").exists()]
        run.lost(missing, cause, lambda item: f"{judge.FUNCTION_ITEMS[item]}: not graded: {cause}.")
        run.lost(judge.QUALITY_ITEMS, cause, lambda item: untrained(item, cause))
        return cause

    def run_notebook(self, run, db, hung=None):
        """nbgrader autograde of the rebuilt notebook (sandboxed kernel), which scores it from the judge's verdicts.

        Returns the verdicts nbgrader's pass scored the notebook with (run.verdicts and the answers it judged:
        grading/instructor/judging/judged_grades.py), or None when nbgrader never scored it.

        `hung`: why the grader's function export of gan.py did not finish (Grader.hung). The notebook then
        imports a stand-in gan.py that raises that reason at once, instead of hanging each cell that uses
        gan.py until the notebook's time runs out: its answers to Inline Questions 4-6 are still scored.
        """
        student = run.student
        self.submit(run, hung)
        exports, replay = run.work / "exports" / "notebook", run.work / "exports" / "training"
        observations = run.work / "observations.json"
        deadline, kernel_wall, limit = notebook_limits(run.clock.notebook())
        options = [f"--LimitedExecute.observations={observations}", f"--LimitedExecute.deadline={deadline}"]
        scoring, scored = self.scoring(run, exports)
        options += scoring
        hide = [self.out, self.submissions, self.mnist_root]
        options += [f"--ScrubHostDetails.paths={path}" for path in hide if path]  # as well as the course and Python
        kernel = None
        if self.sandboxed:
            autograded = self.course / "autograded" / student / ASSIGNMENT
            autograded.mkdir(parents=True, exist_ok=True)
            box = sandbox.Sandbox(
                autograded, exports=exports, data=self.mnist_root, binds={**self.inside_binds(), "/replay": replay},
                env={**self.inside_env(), REPLAY: "/replay"}, pass_env=("NBGRADER_EXECUTION",),
                limits=dataclasses.replace(self.settings.limits, wall_time=kernel_wall),
            )  # fmt: skip
            kernel = sandbox.write_kernelspec(self.course / "kernels" / student, box, run.work / "kernel.outcome.json")
            options += [*kernel.nbgrader_args(), f"--LimitedExecute.kernel_outcome={kernel.outcome}"]
            env = self.env(student)
        else:
            env = self.env(student, exports=exports, replay=replay)
        try:
            with run.timed("notebook"):
                code, output = self.nbgrader(student, "autograde", *options, db=db, timeout=limit, env=env)
        finally:
            if kernel:
                kernel.cleanup()
        (run.work / "nbgrader.log").write_text(output)
        stopped = notebook_stop(observations, kernel.outcome if kernel else None)
        if stopped:
            run.reasons.append(stopped)
        elif kernel and kernel.outcome.exists() and sandbox.Outcome.read(kernel.outcome).limits_hit:
            run.reasons.append(f"the notebook's kernel: {sandbox.Outcome.read(kernel.outcome).reason}")
        elif code is None:
            run.reasons.append(f"the notebook passed its time limit ({limit:g} s)")
        elif code != 0:
            run.reasons.append("nbgrader could not run the notebook")
        run.reasons.extend(truncations(observations))
        return verdict.load(scored) if scored.exists() and gradebook.has_submission(db, student) else None

    def submit(self, run, hung):
        """The course's submitted folder of `run`: the notebook rebuilt around the student's answers (the release
        without one), Part 2's notebook where graded, gan.py (the stand-in where it `hung`), the submission time."""
        if "notebook" in run.staged:
            notebook, notes = rebuild(run.staged["notebook"].read_bytes())
            run.reasons.extend(notes)
        else:
            notebook, _ = rebuild(b"")  # the release: its test cells still show the gan.py checks
        folder = self.course / "submitted" / run.student / ASSIGNMENT
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / NOTEBOOK_NAME)
        if part2.graded() and "faces_notebook" in run.staged:  # never run: its outputs are the student's
            release = nbformat.read(self.course / FACES_RELEASE, as_version=4)
            data = run.staged["faces_notebook"].read_bytes()
            shipped = nbformat.read(FACES_NOTEBOOK, as_version=4)  # the ungraded release, had before FACES_POINTS
            faces, notes = rebuild(data, release, keep_outputs=True, name=FACES_SOURCE_NOTEBOOK.name, also=shipped)
            run.reasons.extend(notes)
            nbformat.write(faces, folder / FACES_SOURCE_NOTEBOOK.name)
        elif part2.graded():  # not submitted: the release, so that the pass scores faces.py's items (not run)
            shutil.copy(self.course / FACES_RELEASE, folder / FACES_SOURCE_NOTEBOOK.name)
        if hung:
            (folder / "gan.py").write_text(stand_in_gan(hung))
        elif "gan" in run.staged:
            shutil.copy(run.staged["gan"], folder / "gan.py")
        if run.submission.submitted_at:  # nbgrader's late policy reads the submission time from here
            (folder / "timestamp.txt").write_text(run.submission.submitted_at.isoformat())

    def scoring(self, run, answers):
        """The options of nbgrader's scoring pass (JudgedGrades): the verdicts so far (Part 2's items by hand: none
        yet), the folder of the answers the kernel exports, and the file of what it scored the notebook with;
        returns (the options, that file: there once nbgrader has scored Part 1's notebook)."""
        given, judged = run.work / "verdicts.json", run.work / "judged-{notebook}.json"
        verdict.save(given, run.verdicts | dict.fromkeys(by_hand()))
        scored = Path(str(judged).format(notebook=ASSIGNMENT))
        scored.unlink(missing_ok=True)
        options = [f"--JudgedGrades.verdicts={given}", f"--JudgedGrades.answers={answers}"]
        return [*options, f"--JudgedGrades.judged={judged}"], scored

    def save(self, run, key, scores, start):
        result = {
            "student": run.student,
            "lms": lms.extra_columns(run.submission),
            "key": key,
            "scores": scores,
            "messages": {item: verdict.message for item, verdict in run.verdicts.items()},
            "causes": run.causes,
            "metrics": {item: v.details["metrics"] for item, v in run.verdicts.items() if "metrics" in v.details},
            "status": "ok" if not run.reasons else "problem",
            "reason": "; ".join(run.reasons),
            "confinement": self.confinement,  # "bwrap", "uid" (the weaker mode: note below) or "off"
            "confinement_note": sandbox.UID_NOTE if self.confinement == "uid" else "",
            "seconds": round(time.perf_counter() - start, 1),
            "phases": run.phases,
            "reused_training": run.reused,
            "alike": run.alike,  # the GANs handed a trusted solution's run (--alike)
            "alike_of": run.alike_of,  # {gan: that solution's Alike.id}
            "manual_state": json.dumps(gradebook.manual_state(self.gradebooks.main, run.student), default=str),
        }
        path = self.out / "results" / f"{run.student}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
        return result

    def write_notes(self, student, notes):
        """The row's notes, for the feedback's summary (FeedbackSummary; the judge's messages are in the notebook)."""
        path = self.course / NOTES.format(student=student)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"notes": notes}, indent=1))

    def feedback(self, student, db, timeout, faces=False):
        """nbgrader's feedback of `student`'s graded notebooks into out/feedback (`faces`: Part 2's notebook was
        submitted, and gets a page of its own)."""
        code, output = self.nbgrader(student, "generate_feedback", db=db, timeout=timeout)
        html = self.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        if code == 0 and html.exists():
            (self.out / "feedback").mkdir(parents=True, exist_ok=True)
            shutil.copy(html, self.out / "feedback" / f"{student}.html")
        else:
            self.log(f"{quote(student)}: no feedback ({last_error(output)})")
        page = self.course / "feedback" / student / ASSIGNMENT / FACES_SOURCE_NOTEBOOK.with_suffix(".html").name
        copy = self.out / "feedback" / FACES_SOURCE_NOTEBOOK.stem / f"{student}.html"
        if code == 0 and faces and page.exists():  # Part 2's submitted notebook: its answers, samples, the TA's grades
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(page, copy)
        else:
            copy.unlink(missing_ok=True)  # an earlier submission's


def stage(source, folder, name):
    """`folder` as a run of student code sees it: the file `source` as `name` beside the provided package (its
    downloaded MNIST and caches left out)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, folder / name)
    shutil.copytree(KIT_DATA, folder / KIT_DATA.name, ignore=shutil.ignore_patterns("MNIST", "__pycache__"))


def exported(path):
    """The description (meta) of the export at `path`, or None when there is none (missing or unreadable)."""
    try:
        meta, _ = judge.load_export(path)
    except verdict.ExportError:
        return None
    return meta


def import_succeeded(functions):
    """False when the function export in `functions` says importing gan.py raised (True when it says nothing)."""
    meta = exported(Path(functions) / "module.npz")
    return meta is None or meta.get("import") == "ok"  # no word of the import: the judge's verdicts say what is missing


def stand_in_gan(cause):
    """The gan.py the notebook imports when the grader's import of the student's did not finish."""
    message = f"gan.py was not run in this notebook: {cause}."
    return f'''"""A stand-in for your gan.py, written by the autograder: its run of yours did not finish in time."""

raise ImportError({message!r})
'''


def observed(observations):
    """What the execute pass (grading/course/preprocessors/limited_execute.py) observed of the notebook."""
    try:
        data = json.loads(Path(observations).read_text())
    except (OSError, ValueError):
        return {}
    return next(iter(data.values()), {}) if isinstance(data, dict) else {}


def notebook_stop(observations, kernel_outcome):
    """Why the notebook stopped early, from what the execute pass and the sandbox launcher observed ('' if not)."""
    stopped = observed(observations).get("stopped")
    if not stopped:
        return ""
    where = f" in cell {stopped['grade_id']}" if stopped.get("grade_id") else ""
    why = {
        "kernel_died": "the notebook's kernel died",
        "deadline": "the notebook reached its time limit",
        "unresponsive": "the notebook's kernel stopped answering",
        "output_lost": "the notebook's output channel was lost (a message too large)",
    }.get(stopped.get("reason"), "the notebook stopped")
    detail = ""
    if kernel_outcome and Path(kernel_outcome).exists():
        detail = sandbox.Outcome.read(kernel_outcome).reason
    return f"{why}{where}" + (f" ({detail})" if detail else "") + ": later cells did not run"


def truncations(observations):
    """'the output of cell 12 was cut at 1 MiB' for the cells whose output the execute pass cut."""
    seen = observed(observations)
    cells = [entry.get("cell") for entry in seen.get("truncated", [])]
    if not cells:
        return []
    limit = describe(seen.get("max_output_bytes") or 0)
    shown = ", ".join(str(cell) for cell in cells[:5]) + (" ..." if len(cells) > 5 else "")
    return [f"the output of cell{'s' if len(cells) > 1 else ''} {shown} was cut at {limit}"]


def start_process(command, cwd, env):
    """The command started in its own process group, its stdout and stderr together in one pipe."""
    return subprocess.Popen(
        command, cwd=cwd, env=env, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace",
    )  # fmt: skip


def run_process(command, cwd, env, timeout):
    """Run a command in its own process group; returns (returncode, or None after `timeout`, and its output)."""
    process = start_process(command, cwd, env)
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the command and anything it started
        output, _ = process.communicate()
        return None, output


def run_with_milestones(command, cwd, env, timeout, milestones, folder):
    """run_process for a command that writes `milestones` (files under `folder`) one after the other: the grader's
    training run of several GANs, unsandboxed (--sandbox off). `timeout` is shared among them as the sandbox's
    launcher shares it (launcher.milestone_deadline; SIGUSR1 before each deadline). Returns (returncode or None
    when stopped, its output, the seconds at which each milestone was reached, the limit it was stopped at or None)."""
    process = start_process(command, cwd, env)
    start, held = time.monotonic(), launcher.Milestones(milestones, timeout)
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            elapsed = time.monotonic() - start
            deadline = held.deadline(elapsed, folder_fd)
            if elapsed > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
                return None, output, held.reached, held.share()
            if held.ask(elapsed, deadline) and launcher.catches(process.pid, signal.SIGUSR1):  # the command itself
                os.kill(process.pid, signal.SIGUSR1)
            try:  # output read so far is kept between tries (subprocess's documentation)
                output, _ = process.communicate(timeout=0.2)
                return process.returncode, output, held.reached, None
            except subprocess.TimeoutExpired:
                continue
    finally:
        os.close(folder_fd)


def last_error(output):
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "[ERROR]" in line or "Error" in line]
    return (errors or lines or ["no output"])[-1][:300]


def row_reason(result, items):
    """The reason column, one sentence per cause: the confinement's note (uid mode), the row's notes, then the
    grader's sentence for every other item that lost points. A note that cost items their points says which,
    once ("gan.py does not parse (line 21: invalid syntax): items 1-13 scored 0"), and items that lost points
    with the same sentence share it; each item's own message stays in the feedback. Items are numbered as
    grades.csv's columns.
    """
    causes, messages = result.get("causes") or {}, result.get("messages") or {}
    by_note, by_message = {}, {}
    for number, (grade_id, points, autograded) in enumerate(items, 1):
        if not autograded or (result["scores"].get(grade_id) or 0.0) >= points:
            continue
        if causes.get(grade_id):
            by_note.setdefault(causes[grade_id], []).append(number)
        elif messages.get(grade_id):
            by_message.setdefault(messages[grade_id], []).append(number)
    parts = [result["confinement_note"]] if result.get("confinement_note") else []
    for note in [note for note in result["reason"].split("; ") if note]:
        numbers = by_note.pop(note, None)
        parts.append(f"{note}: {item_numbers(numbers)} scored 0" if numbers else note)
    parts += [f"{cause}: {item_numbers(numbers)} scored 0" for cause, numbers in by_note.items()]
    for message, numbers in by_message.items():
        parts.append(message if len(numbers) == 1 else f"{message.rstrip('.')}: {item_numbers(numbers)} scored 0")
    return "; ".join(parts)


def write_grades(path, results, items):
    """grades.csv: student, LMS columns, one column per item (blank = to be graded by hand), totals, status, reason."""
    header = ["student", *lms.EXTRA_COLUMNS] + [column(g) for g, _, _ in items]
    header += ["autograded_score", "autograded_max", "total_score", "total_max", "status", "reason", "seconds"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for result in sorted(results, key=lambda r: r["student"]):
            scores, row = result["scores"], [result["student"]]
            row += [result.get("lms", {}).get(name, "") for name in lms.EXTRA_COLUMNS]
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
            row += [result["status"], row_reason(result, items), result["seconds"]]
            writer.writerow(row)


def summary(results, items, problems=()):
    """The printed end of a batch: the grade table, counts, the mean score of each item and the batch's problems."""
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
    flagged = sum(r["status"] != "ok" for r in results)
    lines.append(f"graded {len(results)} submissions: {len(results) - flagged} ok, {flagged} with problems")
    for grade_id, points, autograded in items:
        if autograded and results:
            mean = sum(r["scores"].get(grade_id) or 0.0 for r in results) / len(results)
            lines.append(f"  mean {column(grade_id):<22} {mean:5.2f} / {points:g}")
    if problems:
        lines.append(
            f"the batch: {len(problems)} problem{'s' if len(problems) > 1 else ''}, no row for any (problems.txt):"
        )
        lines += [f"  {problem}" for problem in problems]
    return "\n".join(lines)


def autograde(submissions, out, settings=None, log=print):
    """Grade every submission under `submissions` (folder or zip) into `out` as `settings` (Settings) say, several
    at a time (settings.workers); returns (the results, the graded items).

    Each submission's runs use settings.threads threads; its scores do not depend on how many run at once.
    settings.time bounds each submission's wall time. What the export holds that is no student's (archive
    members refused outside any student's files) is no row: it goes to `out`/problems.txt and the log.
    """
    settings = settings or Settings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = unpack(submissions, tmp) if str(submissions).endswith(".zip") else Path(submissions)
        except UnsafeArchive as error:
            raise SystemExit(f"{submissions}: {error}") from None
        found = collect(folder, faces=part2.graded())
        write_problems(out / PROBLEMS_FILE, found.problems)
        for problem in found.problems:
            log(f"batch: {problem}")
        if not found:
            listed = "".join(f"\n  {problem}" for problem in found.problems)
            raise SystemExit(
                f"no submissions found in {submissions} (layouts: grading/instructor/intake/submissions.py){listed}"
            )
        grader = Grader(out, settings, submissions=folder, log=log)
        grader.prepare()
        grader.prepare_alike(len(found))
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(settings.threads)  # the judge's own computations, like the submissions' runs
        total = len(found)

        def grade(numbered):
            number, submission = numbered
            log(f"[{number}/{total}] grading {quote(submission.key)} ...")
            result = grader.grade(submission)
            log(f"[{number}/{total}] {quote(submission.key)}: {result['seconds']} s {quote(result['reason'], 300)}")
            return result

        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=settings.workers) as pool:
                results = list(pool.map(grade, enumerate(found, 1)))
        finally:
            torch.set_num_threads(torch_threads)
    write_grades(out / "grades.csv", results, grader.items)
    return results, grader.items


def write_problems(path, problems):
    """The batch's problems, one a line (no file when there are none: an earlier run's is removed)."""
    if problems:
        path.write_text("".join(f"{problem}\n" for problem in problems))
    else:
        path.unlink(missing_ok=True)


def read_problems(path):
    try:
        return [line for line in Path(path).read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def ensure_mnist(root):
    """Load (and, with internet, download) MNIST once, so no submission downloads it again."""
    from nndl2.data import load_mnist, mnist_root

    root = mnist_root(root)
    load_mnist(root)
    return root


def options():
    """The command's options; each default is Settings' (grading/instructor/settings.py), stated there only."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder or .zip of submissions")
    parser.add_argument("--out", type=Path, default=Path("autograded"), help="results folder (default: autograded)")
    parser.add_argument("--mnist-root", type=Path, help="MNIST folder (default: $MNIST_ROOT, else download to nndl2/)")
    default = Settings()
    parser.add_argument(
        "--budget", choices=BUDGETS, default=default.budget, help="training budget (default: %(default)s)"
    )
    parser.add_argument(
        "--submission-timeout", type=float, default=default.time.total, metavar="SECONDS",
        help="wall time of one submission, all its runs together (default %(default)g); every run's limit "
        "is drawn from what is left of it (TimeBudget in grading/instructor/settings.py)",
    )  # fmt: skip
    parser.add_argument(
        "--sandbox", choices=["on", "off"], default=default.sandbox,
        help="on (default): every run of student code is confined (grading/instructor/confine/sandbox.py), and grading "
        "refuses to start where bubblewrap cannot run; off: student code runs as you, unconfined",
    )  # fmt: skip
    parser.add_argument(
        "--memory", type=float, default=default.limits.memory / GiB,
        help="GiB of memory per run of student code (default %(default)g)",
    )  # fmt: skip
    parser.add_argument("--regrade", action="store_true", help="grade unchanged submissions again")
    parser.add_argument(
        "--threads", type=int, default=default.threads,
        help="threads of each submission's runs (default %(default)s); scores may differ between values: keep it "
        "for a term",
    )  # fmt: skip
    parser.add_argument(
        "--jobs",
        type=int,
        default=default.jobs,
        help="submissions graded at once (default: the CPU cores divided by --threads)",
    )
    parser.add_argument(
        "--whole-budget", action="store_true",
        help="train every GAN the whole budget, not until it meets the thresholds (the design before; slower: "
        "python -m grading.ta.grading_time compares the two)",
    )  # fmt: skip
    parser.add_argument(
        "--alike", choices=["auto", "on", "off"], default=default.alike,
        help="on: train the reference solution first (and probe the styles' solutions in grading/instructor/judging/"
        "alike_styles), and let each submission's GAN that trains bit for bit as one of theirs does for the first "
        "iterations go on with that run (an assumption about the rest of the run: grading/ta/"
        f"alike.md); off: train every GAN; auto (default): on for a batch of {trained.ALIKE_BATCH} submissions or "
        "more. Only for CPU training in float32 that stops when the thresholds are met, in the sandbox",
    )  # fmt: skip
    parser.add_argument(
        "--run-per-gan", action="store_true",
        help="train each GAN in a sandboxed run of its own, not the three in one (the design before; slower)",
    )  # fmt: skip
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto",  # Settings resolves "auto" to cpu or cuda
        help="where the grader's training runs train (default auto: the GPU where PyTorch sees one; untested on "
        "GPU hardware); everything else runs on the CPU",
    )  # fmt: skip
    parser.add_argument(
        "--precision", choices=PRECISION_CHOICES, default="float32",
        help="how the training runs compute (default float32, whatever the hardware: the thresholds' widest margins, "
        "grading/ta/seed_distributions.md; auto: bfloat16 autocast where the CPU or GPU is fast at it, faster there "
        "and with narrower margins, seed_distributions_bfloat16.md)",
    )  # fmt: skip
    return parser


def main(argv=None):
    parser = options()
    args = parser.parse_args(argv)
    try:  # the one grading configuration, built here once
        settings = Settings(
            budget=args.budget, whole_budget=args.whole_budget, run_per_gan=args.run_per_gan, device=args.device,
            precision=args.precision, threads=args.threads, jobs=args.jobs, sandbox=args.sandbox,
            time=TimeBudget(args.submission_timeout), regrade=args.regrade, alike=args.alike,
            limits=dataclasses.replace(Settings().limits, memory=int(args.memory * GiB)),
        )  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    mnist = ensure_mnist(args.mnist_root or os.environ.get("MNIST_ROOT"))
    results, items = autograde(args.submissions, args.out, dataclasses.replace(settings, mnist_root=mnist))
    print(summary(results, items, read_problems(args.out / PROBLEMS_FILE)))
    print(f"wrote {args.out / 'grades.csv'} and {args.out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
