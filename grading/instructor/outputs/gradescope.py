"""Gradescope: an autograder zip that grades one submission with the kit's sandbox and judge.

    python -m grading.instructor.outputs.gradescope build [--out build/gradescope/autograder.zip]
                                                           [--budget autograde] [--threads 2] [--sandbox on|off]
                                                           [--visibility visible] [--precision float32|auto]
                                                           [--alike on|off]

Upload the zip as the assignment's autograder ("Zip file upload", Ubuntu 22.04 base image). Gradescope
then runs every submission in a container of its own, in parallel, at any class size:

- setup.sh runs once, when Gradescope builds the image: it installs Python, bubblewrap and the kit's
  requirements (PyTorch's CPU build), then `python -m grading.instructor.outputs.gradescope prepare`
  downloads MNIST and builds the nbgrader course, so that each submission starts at once, and (--alike on, the
  default) trains the trusted solutions' runs as autograde's --alike does before a batch: the reference's and
  the styles' that a submission may be handed (grading/instructor/judging/trained.py), sandboxed, once;
- run_autograder runs for every submission: `python -m grading.instructor.outputs.gradescope run` copies the
  student's files (plain files only), grades them exactly as `grading.instructor.autograde` grades one
  student (the same sandbox, the same judge, the same nbgrader course; a GAN whose probe is a trusted
  solution's goes on with the run setup.sh kept, and where setup.sh kept none every GAN trains), and writes
  /autograder/results/results.json: one test per autograded item (its title, score, points, and the
  judge's one sentence as output), the row's notes as the overall output. Hand-graded items (the two
  justifications; with Part 2 graded, FACES_POINTS > 0 in grading/course/part2.py, its samples and three
  answers, while its eight functions are tests like Part 1's) are not in it: grade them as a Gradescope
  question of their own.

Gradescope's containers (Docker's default seccomp profile) refuse the user namespaces bubblewrap needs:
there run_autograder, which runs as root, confines student code in the sandbox's uid mode instead
(grading/instructor/confine/sandbox.py: a user id of its own, no capabilities, limits, every process killed at the
end), after making everything under /autograder but the venv readable by root only (the kit, its
solution, the judge's reference, results/). What that mode cannot confine (the network, /proc) is said
in results.json's top-level output of every submission. Where neither mode can run, run_autograder
stops with the sandbox's own message (every test then shows the failure); a zip built with
--sandbox off grades without confinement: its code runs as root and can read everything in the
container, the kit and its solution included, and write results.json itself.

AUTOGRADER (default /autograder; GAN_KIT_AUTOGRADER_ROOT overrides it, as the tests do) holds
source/ (the unzipped autograder), submission/, submission_metadata.json and results/.
"""

import argparse
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

from grading.course.items import title
from grading.instructor.settings import BUDGETS, PRECISION_CHOICES, Settings
from grading.kit import ROOT

DEFAULT_OUT = ROOT / "build" / "gradescope" / "autograder.zip"
SETTINGS = "gradescope.json"
KIT = ("gan.py", "GANs-PyTorch.ipynb", "requirements.txt", "requirements-dev.txt", "nndl2", "grading")
LEFT_OUT = ("grading/ta",)  # TA tools: not needed to grade
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (Ubuntu 22.04, as root, online).
set -euo pipefail
cd /autograder/source
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap > /dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
# PyTorch's CPU build (Gradescope has no GPU), then the kit's requirements.
cpu=https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install --quiet --index-url "$cpu" "torch>=2.1" "torchvision>=0.16"
/autograder/venv/bin/pip install --quiet -r requirements-dev.txt
/autograder/venv/bin/python -m grading.instructor.outputs.gradescope prepare
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it and write /autograder/results/results.json.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
python="${GAN_KIT_PYTHON:-/autograder/venv/bin/python}"
exec "$python" -m grading.instructor.outputs.gradescope run
"""


def autograder_root():
    return Path(os.environ.get("GAN_KIT_AUTOGRADER_ROOT", "/autograder"))


# -- build ----------------------------------------------------------------------------------------


def kit_files():
    """(path in the zip, file) of every tracked kit file the autograder needs."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--", *KIT], capture_output=True, check=True
    ).stdout.decode()
    for name in sorted(filter(None, listed.split("\0"))):
        if not name.startswith(LEFT_OUT) and (ROOT / name).is_file():
            yield name, ROOT / name


def build(out=DEFAULT_OUT, budget=Settings.budget, threads=2, sandbox=Settings.sandbox, visibility="visible",
          precision=Settings.precision, alike="on"):  # fmt: skip
    """Write the autograder zip; returns its path. Deterministic: the same kit gives the same bytes.

    precision: float32 by default, as autograde's: Gradescope runs each submission on whatever machine its
    container lands on, and the class's GANs should train alike whichever CPU that is.
    alike: "on": setup.sh trains the trusted solutions' runs once (autograde's --alike), and each container hands
    them to the submission's GANs that train bit for bit as theirs; "off": every GAN trains."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility is one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    for name, value in (("sandbox", sandbox), ("alike", alike)):
        if value not in ("on", "off"):
            raise ValueError(f"{name} is 'on' or 'off', not {value!r}")
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision is one of {', '.join(PRECISION_CHOICES)}, not {precision!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"budget": budget, "precision": precision, "threads": threads, "sandbox": sandbox,
                "visibility": visibility, "alike": alike}  # fmt: skip
    members = [("setup.sh", SETUP.encode(), 0o755), ("run_autograder", RUN.encode(), 0o755)]
    members.append((SETTINGS, (json.dumps(settings, indent=1) + "\n").encode(), 0o644))
    members += [(name, path.read_bytes(), 0o644) for name, path in kit_files()]
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    partial.replace(out)
    return out


# -- prepare (once, in the image) and run (each submission) -----------------------------------


def settings(source):
    return json.loads((Path(source) / SETTINGS).read_text())


def mnist_folder(source):
    return Path(os.environ.get("MNIST_ROOT") or Path(source) / "mnist")


def grading_settings(source):
    """The Settings of the zip's settings.json (every submission is graded afresh: a container each)."""
    chosen = settings(source)
    return Settings(
        budget=chosen["budget"], precision=chosen["precision"], threads=chosen["threads"], sandbox=chosen["sandbox"],
        mnist_root=mnist_folder(source), regrade=True, alike=chosen.get("alike", "off"),  # a zip from before: off
    )  # fmt: skip


def grader(root, source, submissions=None, log=print):
    from grading.instructor.autograde import Grader

    return Grader(root / "grading", grading_settings(source), submissions=submissions, log=log)


def prepare(root=None, source=None):
    """Download MNIST and build the nbgrader course (setup.sh, once); with alike on, train the trusted solutions'
    runs that the containers hand on (Grader.prepare_alike, then train_styles: sandboxed, the zip's settings)."""
    from nndl2.data import load_mnist

    root = Path(root or autograder_root())
    source = Path(source or Path(__file__).resolve().parents[3])
    load_mnist(mnist_folder(source))
    judge = grader(root, source)
    judge.prepare()
    judge.prepare_alike(1)  # nothing where the zip's alike is off
    judge.train_styles()


def copy_submission(folder, target):
    """Copy a Gradescope submission folder below `target`: regular files as copies, links as links (which
    submission discovery then refuses, with a reason), nothing else (FIFOs, devices) at all."""
    from grading.instructor.intake.plainfiles import LIMITS, Refused, copy_plain, walk

    entries, problems = walk(folder)
    target.mkdir(parents=True, exist_ok=True)
    limit = max(LIMITS.values())
    for parts, st in entries:
        source, destination = Path(folder, *parts), Path(target, *parts)
        if stat.S_ISDIR(st.st_mode):
            destination.mkdir(parents=True, exist_ok=True)
        elif stat.S_ISLNK(st.st_mode):
            destination.symlink_to(os.readlink(source))
        elif stat.S_ISREG(st.st_mode):
            try:
                copy_plain(source, destination, limit, root=folder)
            except Refused as error:
                problems.append(str(error))
        else:
            problems.append(f"{'/'.join(parts)} is not a regular file: not read")
    return problems


def metadata(root):
    """Gradescope's submission_metadata.json: {} if absent or unreadable."""
    try:
        data = json.loads((root / "submission_metadata.json").read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def when(text):
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def results_json(result, items, visibility, seconds):
    """Gradescope's results.json for one graded submission (kit result from Grader.grade)."""
    tests = []
    for number, (grade_id, points, autograded) in enumerate(items, 1):
        if not autograded:
            continue  # graded by hand: a Gradescope question of its own
        score = result["scores"].get(grade_id) or 0.0
        tests.append({
            "name": title(grade_id),
            "number": str(number),
            "score": score,
            "max_score": points,
            "status": "passed" if score >= points else "failed",
            "output": result.get("messages", {}).get(grade_id, ""),
            "visibility": visibility,
        })  # fmt: skip
    notes = [note for note in result.get("reason", "").split("; ") if note]
    output = "\n".join(["Notes from the grader:", *(f"- {note}" for note in notes)]) if notes else ""
    if result.get("confinement_note"):  # graded in the weaker mode: say what it could not confine
        output = "\n\n".join(filter(None, [f"Sandbox: {result['confinement_note']}.", output]))
    return {
        "score": sum(test["score"] for test in tests),
        "execution_time": round(seconds),
        "output": output,
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def failure_json(message, items, visibility, seconds):
    """results.json when grading could not run at all: every test at 0 with the reason."""
    result = {"scores": {}, "messages": {grade_id: message for grade_id, _, _ in items}, "reason": message}
    return results_json(result, items, visibility, seconds)


def run(root=None):
    """Grade /autograder/submission and write /autograder/results/results.json; returns the results."""
    import torch

    from grading.course import part2
    from grading.instructor.autograde import graded_items
    from grading.instructor.intake.submissions import collect

    start = time.perf_counter()
    root = Path(root or autograder_root())
    source = Path(__file__).resolve().parents[3]
    chosen = settings(source)
    items = graded_items()
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            meta = metadata(root)
            users = meta.get("users") or [{}]
            student = str(users[0].get("sid") or users[0].get("id") or "student")
            problems = copy_submission(root / "submission", Path(tmp) / "submissions" / "submission")
            (submission,) = collect(Path(tmp) / "submissions", faces=part2.graded())
            submission.name = ", ".join(str(user.get("name", "")) for user in users if user.get("name")) or student
            submission.source, submission.lms_id = "gradescope", str(meta.get("id") or "") or None
            submission.sid = str(users[0].get("sid") or "") or None
            submission.submitted_at = when(meta.get("created_at")) if meta.get("created_at") else None
            due = when((meta.get("assignment") or {}).get("due_date") or "")
            submission.late = bool(submission.submitted_at and due and submission.submitted_at > due)
            submission.problems.extend(problems)
            judge = grader(root, source, submissions=Path(tmp) / "submissions")
            if judge.confinement == "uid":  # everything under /autograder but the venv: the grader's only
                from grading.instructor.confine import sandbox

                sandbox.protect(root, keep=sandbox.python_folders())
            judge.prepare()  # setup.sh built the course: this only checks its stamp (or builds it if missing)
            judge.prepare_alike(1, kept_only=True)  # the runs setup.sh kept, if it did: nothing trains here
            torch.set_num_threads(chosen["threads"])  # the judge's own computations, as in autograde's batches
            result = judge.grade(submission)
        results = results_json(result, items, chosen["visibility"], time.perf_counter() - start)
    except Exception as error:  # the sandbox cannot run here, or the grader failed: the student sees why
        message = f"The autograder could not grade this submission ({type(error).__name__}: {error})."
        results = failure_json(message, items, chosen["visibility"], time.perf_counter() - start)
    out.write_text(json.dumps(results, indent=1))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write the autograder zip")
    make.add_argument("--out", type=Path, default=DEFAULT_OUT)
    make.add_argument("--budget", choices=BUDGETS, default=Settings.budget)
    make.add_argument("--threads", type=int, default=2, help="threads of each run (Gradescope gives 2 CPUs)")
    make.add_argument("--sandbox", choices=["on", "off"], default=Settings.sandbox)
    make.add_argument(
        "--precision", choices=PRECISION_CHOICES, default=Settings.precision,
        help="how the training runs compute (default float32, whichever CPU a container gets; auto: bfloat16 "
        "autocast where that CPU is fast at it, so students' GANs may train differently)",
    )  # fmt: skip
    make.add_argument("--visibility", choices=VISIBILITIES, default="visible")
    make.add_argument(
        "--alike", choices=["on", "off"], default="on",
        help="on (default): setup.sh trains the trusted solutions' runs once (autograde's --alike) and every container "
        "hands them to the submission's GANs that train bit for bit as theirs; off: every GAN trains",
    )  # fmt: skip
    commands.add_parser("prepare", help="(setup.sh) download MNIST, build the course, train the trusted runs")
    commands.add_parser("run", help="(run_autograder) grade /autograder/submission")
    args = parser.parse_args(argv)
    if args.command == "build":
        out = build(args.out, args.budget, args.threads, args.sandbox, args.visibility, args.precision, args.alike)
        print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB): upload it as the Gradescope autograder")
    elif args.command == "prepare":
        prepare()
    else:
        results = run()
        print(f"score {results['score']:g} of {sum(t['max_score'] for t in results['tests']):g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
