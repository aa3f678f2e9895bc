"""A time budget per submission, a hang found once and located, and one sentence per cause in a row's reason.

The fast tests check the budget's arithmetic, the reading of Python's own faulthandler dump and the reason
column. The slow ones grade submissions whose gan.py hangs at import (a busy loop), hangs in a function (the
generator sleeps forever), or asks for input, through the real command and sandbox with a
budget of 200 s: each gets a complete row well within its budget without starting the training runs,
says at which line of gan.py it hung, and keeps its Inline Question 4-6 answers.
"""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from grading.instructor import autograde
from grading.instructor.autograde import Run, compile_problem, hang_location, row_reason
from grading.instructor.confine import launcher
from grading.instructor.confine.limits import GiB, Limits
from grading.instructor.judging import judge
from grading.instructor.settings import SUBMISSION_TIMEOUT, Clock, Settings, TimeBudget
from grading.kit import NBGRADER_CONFIG, ROOT, SOLUTION_GAN
from grading.ta.examples import answered_notebook, write_submission

ITEMS = autograde.graded_items()
NUMBER = {grade_id: number for number, (grade_id, _, _) in enumerate(ITEMS, 1)}
GAN_ITEMS = [*judge.FUNCTION_ITEMS, *judge.QUALITY_ITEMS]
INLINE = ["test_inline_q4", "test_inline_q5", "test_inline_q6"]


def clock(total, elapsed, **fractions):
    return Clock(TimeBudget(total, **fractions), time.monotonic() - elapsed)


def test_no_notebook_cell_runs_longer_than_a_whole_submission_may(monkeypatch):
    """nbgrader's per-cell timeout is the settings' default time budget (stated once), not a number of its own."""
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("GAN_KIT_ROOT", str(ROOT))
    config = PyFileConfigLoader(NBGRADER_CONFIG.name, path=str(NBGRADER_CONFIG.parent)).load_config()
    assert config.Execute.timeout == SUBMISSION_TIMEOUT and config.Execute.interrupt_on_timeout is True


def test_every_stage_draws_its_limit_from_what_is_left_of_the_budget():
    assert SUBMISSION_TIMEOUT == 900  # the documented default: 3.7 times the 243 s measured
    fresh = clock(900, 0)
    assert fresh.functions() == pytest.approx(90, abs=0.2)  # capped: 10% of the total
    # Training: an equal share of what is left once the notebook's (15%) and feedback's (5%) are kept.
    assert clock(900, 4).training(3) == pytest.approx((896 - 180) / 3, abs=0.2)
    assert clock(900, 100).training(1) == pytest.approx(800 - 180, abs=0.2)
    assert clock(900, 700).notebook() == pytest.approx(200 - 45, abs=0.2)
    assert clock(900, 880).feedback() == pytest.approx(20, abs=0.2)
    assert clock(900, 2000).feedback() == Clock.MIN_LIMIT  # never zero or negative
    # A slow stage leaves the later ones less, never the reserves of the notebook and the feedback.
    assert clock(900, 600).training(1) == pytest.approx(300 - 180, abs=0.2)
    deadline, kernel, nbgrader = autograde.notebook_limits(155)
    assert deadline < kernel < nbgrader == 155
    with pytest.raises(ValueError):
        TimeBudget(0)


def test_the_default_budget_fits_the_measured_real_grading_with_margin():
    """README: 250 s a submission at the real budget whose GANs train it all, 2 cores, two at once (export 4 s,
    training 220 s, notebook 18 s, feedback 4 s). Each stage's limit at the default is at least three times
    what it took."""
    budget = TimeBudget()
    after_export = clock(budget.total, 4)
    assert budget.functions * budget.total >= 3 * 4
    assert 3 * after_export.training(3) >= 3 * 220
    assert clock(budget.total, 4 + 220).notebook() >= 3 * 18
    assert clock(budget.total, 4 + 220 + 18 + 3).feedback() >= 3 * 4


@pytest.mark.parametrize(
    "body, line, text",
    [
        # one line: a dump may land on either line of a two-line loop (it did, in a CI run)
        ("import time\n\nx = 1\nwhile True: x += 1\n", 4, "while True: x += 1"),
        ("import time\n\n\ntime.sleep(10_000)\n", 4, "time.sleep(10_000)"),
    ],
)
def test_a_hang_is_located_at_its_line_of_gan_py_from_pythons_own_dump(tmp_path, body, line, text):
    (tmp_path / "gan.py").write_text(body)
    watchdog = "import faulthandler, sys; faulthandler.dump_traceback_later(0.5); sys.path.insert(0, '.'); import gan"
    process = subprocess.Popen([sys.executable, "-c", watchdog], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    process.kill()
    _, stderr = process.communicate()
    assert stderr.startswith("Timeout (0:00:00.500000)!")
    where = hang_location(stderr, tmp_path / "gan.py")
    assert where == f'at line {line} of gan.py, "{text}", importing it'
    assert hang_location("no dump here", tmp_path / "gan.py") == ""


def test_a_hang_the_launcher_asks_about_is_located_from_the_dump_sigusr1_prints(tmp_path):
    """A training run's GAN at its deadline (launcher.milestone_deadline): the launcher sends SIGUSR1, and the
    watchdog's faulthandler.register prints every thread; the location is the main thread's (the one that got the
    signal), not another thread's, and a later dump counts, not the watchdog timer's earlier one."""
    assert "faulthandler.register(signal.SIGUSR1, all_threads=True)" in autograde.WATCHDOG
    gan = "import time\n\ntime.sleep(1)\n\n\ndef build_dc_generator():\n    while True: time.sleep(0.01)\n"
    (tmp_path / "gan.py").write_text(gan)  # importing it when the timer fires, in build_dc_generator at SIGUSR1
    code = (
        "import faulthandler, signal, sys, threading, time; faulthandler.dump_traceback_later(0.3); "
        "faulthandler.register(signal.SIGUSR1, all_threads=True); sys.path.insert(0, '.')\n"
        "threading.Thread(target=lambda: time.sleep(60), daemon=True).start()  # as tqdm's monitor thread\n"
        "import gan; gan.build_dc_generator()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    process.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    process.kill()
    _, stderr = process.communicate()
    assert stderr.startswith("Timeout (") and stderr.count("Current thread 0x") == 1, stderr
    where = hang_location(stderr, tmp_path / "gan.py")
    assert where == 'at line 7 of gan.py, "while True: time.sleep(0.01)", in build_dc_generator'


def test_unsandboxed_the_training_run_is_held_to_its_milestones_as_the_launcher_holds_it(tmp_path, monkeypatch):
    """--sandbox off: the grader's own loop shares the training run's time among its GANs' exports as the sandbox's
    launcher does (tests/confine_probes.py's run: c written out of order, a after a moment, then a hang in b)."""
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    import confine_probes

    exports = tmp_path / "exports"
    exports.mkdir()
    env = {**os.environ, "GAN_KIT_EXPORTS": str(exports)}
    command = [sys.executable, "-c", confine_probes.MILESTONE_RUN]
    start = time.monotonic()
    code, output, reached, limit = autograde.run_with_milestones(
        command, tmp_path, env, confine_probes.MILESTONE_HORIZON, ["a/a.npz", "b/b.npz", "c/c.npz"], exports
    )
    wall = time.monotonic() - start
    (seen,) = reached  # a only
    deadline = launcher.milestone_deadline([seen], 3, confine_probes.MILESTONE_HORIZON)
    assert code is None and limit == pytest.approx(deadline - seen, abs=0.06)
    assert deadline - 0.05 < wall < deadline + 1.5 and "in stuck_in_b" in output
    finished = autograde.run_with_milestones([sys.executable, "-c", "pass"], tmp_path, env, 5.0, ["x/x.npz"], exports)
    assert finished == (0, "", [], None)


def test_a_hang_inside_a_function_names_the_function():
    dump = (
        "Timeout (0:01:25)!\nThread 0x00007f (most recent call first):\n"
        '  File "/assignment/gan.py", line 2 in generator\n'
        '  File "/opt/kit/nndl2/agent/export.py", line 99 in export_generator\n'
    )
    assert hang_location(dump, "/nonexistent/gan.py") == "at line 2 of gan.py, in generator"
    outside = 'Timeout (0:01:25)!\nThread 0x1 (most recent call first):\n  File "/x/torch/nn.py", line 7 in f\n'
    assert hang_location(outside, "/nonexistent/gan.py") == 'at line 7 of "nn.py", in f'


def test_a_gan_py_that_does_not_parse_says_so_once_in_the_row(tmp_path):
    note = compile_problem(SOLUTION_GAN.read_text().replace("def sample_noise(", "def sample_noise(:").encode())
    assert note.startswith("gan.py does not parse (line ")
    run = Run(submission=None, work=tmp_path, clock=None)
    run.lost(GAN_ITEMS, note)
    scores = {grade_id: 0.0 for grade_id in GAN_ITEMS} | {grade_id: 1.0 for grade_id in INLINE}
    result = {
        "scores": scores,
        "messages": {item: v.message for item, v in run.verdicts.items()},
        "causes": run.causes,
        "reason": "; ".join(run.reasons),
    }
    numbers = sorted(NUMBER[item] for item in GAN_ITEMS)
    assert numbers == list(range(1, 14))
    assert row_reason(result, ITEMS) == f"{note}: items 1-13 scored 0"
    assert all(run.verdicts[item].message == f"{note}." for item in GAN_ITEMS)  # each item still says why


def test_items_lost_with_the_same_sentence_share_it_and_other_sentences_stay():
    message = "importing gan.py raised EOFError: EOF when reading a line (gan.py line 1)."
    functions = list(judge.FUNCTION_ITEMS)
    result = {
        "scores": {item: 0.0 for item in functions} | {"test_inline_q4": 0.0},
        "messages": {item: message for item in functions} | {"test_inline_q4": "Inline Question 4: wrong value."},
        "reason": "the notebook's kernel died",
    }
    assert row_reason(result, ITEMS) == (
        "the notebook's kernel died; "
        "importing gan.py raised EOFError: EOF when reading a line (gan.py line 1): items 1-6, 8-9, 11-12 scored 0; "
        "Inline Question 4: wrong value."
    )


# -- end to end ---------------------------------------------------------------------------------------
BUDGET = TimeBudget(200)  # the function export gets 20 s: torch's import under load, then gan.py's
HANGS = {
    # busy loops on one line: Python's dump lands on either line of a two-line loop (it did, in CI runs). A hang
    # that sleeps is read from the same dump (test_a_hang_is_located_at_its_line_of_gan_py_from_pythons_own_dump).
    "busy": ("import torch\n\nx = 0\nwhile True: x += 1\n", 4, "while True: x += 1"),
}
# A hang in a function: it sleeps, so that the two hangs of this batch do not both take a core for their whole limit.
LOOPS = "\n\ndef generator(*args, **kwargs):\n    import time\n\n    while True: time.sleep(1)\n"


@pytest.fixture(scope="module")
def hanging(tmp_path_factory, mnist_real):
    tmp = tmp_path_factory.mktemp("hang")
    answered, solution = answered_notebook(), SOLUTION_GAN.read_text()
    for name, (body, _, _) in HANGS.items():
        write_submission(tmp / "submissions" / name, answered, body + solution)
    write_submission(tmp / "submissions" / "asks", answered, 'name = input("your name? ")\n' + solution)
    write_submission(tmp / "submissions" / "loops", answered, solution + LOOPS)
    # All at once (--jobs 3): one hang sleeps and `asks` fails at once, so only the busy loop holds a core throughout.
    start = time.monotonic()
    results, _ = autograde.autograde(
        tmp / "submissions", tmp / "out",
        Settings(budget="smoke", time=BUDGET, mnist_root=mnist_real, jobs=len(HANGS) + 2, threads=1,
                 limits=Limits(memory=2 * GiB, processes=128)),
        log=lambda *a: None,
    )  # fmt: skip
    wall = time.monotonic() - start
    print(
        f"hanging submissions graded in {wall:.1f} s: " + ", ".join(f"{r['student']} {r['seconds']} s" for r in results)
    )
    return {"results": {r["student"]: r for r in results}, "out": tmp / "out"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HANGS))
def test_a_gan_py_that_hangs_at_import_costs_one_limit_and_says_where(hanging, name):
    result = hanging["results"][name]
    _, line, text = HANGS[name]
    limit = BUDGET.functions * BUDGET.total
    assert result["seconds"] < BUDGET.total
    assert "training" not in result["phases"]  # the three training runs were not started
    assert result["phases"]["functions"] < limit + 5
    where = f'at line {line} of gan.py, "{text}", importing it'
    cause = f"the grader's import of gan.py did not finish in {limit:g} s (it was {where})"
    assert result["reason"] == cause
    assert all(result["scores"][item] == 0 for item in GAN_ITEMS)
    assert all(result["scores"][item] == 1 for item in INLINE)  # the notebook ran with a stand-in gan.py
    assert result["messages"]["test_sample_noise"] == f"sample_noise: not graded: {cause}."
    assert result["messages"]["test_inline_q1"] == f"Inline Question 1: not trained: {cause}."
    row = next(r for r in grades(hanging) if r["student"] == name)
    assert row["reason"] == f"{cause}: items 1-13 scored 0"


@pytest.mark.slow
def test_a_gan_py_that_asks_for_input_fails_at_once_and_says_so_once(hanging):
    result = hanging["results"]["asks"]
    assert result["seconds"] < BUDGET.total / 2 and "training" not in result["phases"]
    assert all(result["scores"][item] == 0 for item in GAN_ITEMS)
    assert all(result["scores"][item] == 1 for item in INLINE)
    row = next(r for r in grades(hanging) if r["student"] == "asks")
    assert row["reason"] == (
        "importing gan.py raised EOFError: EOF when reading a line (gan.py line 1): items 1-13 scored 0"
    )


def grades(batch):
    with open(batch["out"] / "grades.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_hang_in_a_function_keeps_the_functions_judged_before_it_and_names_the_function(hanging):
    result = hanging["results"]["loops"]
    assert result["seconds"] < BUDGET.total and "training" not in result["phases"]
    line = SOLUTION_GAN.read_text().count("\n") + LOOPS.count("\n")  # the loop of the generator appended
    limit = BUDGET.functions * BUDGET.total
    where = f'at line {line} of gan.py, "while True: time.sleep(1)", in generator'
    cause = f"the grader's run of gan.py's functions did not finish in {limit:g} s (it was {where})"
    assert result["reason"] == cause
    judged = ["test_sample_noise", "test_discriminator"]  # exported before the generator
    assert [result["scores"][item] for item in judged] == [1, 1]
    lost = [item for item in GAN_ITEMS if item not in judged]
    assert all(result["scores"][item] == 0 for item in lost)
    assert result["messages"]["test_generator"] == f"generator: not graded: {cause}."
    assert all(result["scores"][item] == 1 for item in INLINE)
    row = next(r for r in grades(hanging) if r["student"] == "loops")
    assert row["reason"] == f"{cause}: items 3-13 scored 0"
