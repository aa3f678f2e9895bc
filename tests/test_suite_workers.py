"""./kit test runs the test files on two or more pytest-xdist workers: the files that share the session's batch must
run on one worker, or the batch is graded twice at once (the probes' processes they count are named apart:
tests/confine_probes.py). xdist's own grouping (`--dist loadgroup`) silently stopped working on
pytest 9.2 (pytest-dev/pytest-xdist#1386); tests/conftest.py's scheduler does it, and this checks it does."""

import re
import subprocess
import sys

from conftest import SAME_WORKER, worker_group

from grading.kit import ROOT

QUICK = [  # one quick test of each file of the batch's group, and three files of their own
    "tests/test_autograde.py::test_the_graded_generator_is_the_architecture_holding_the_exported_weights",
    "tests/test_feedback.py::test_every_graded_cell_has_a_title_and_its_name_is_in_the_notebook",
    "tests/test_gradescope.py::test_the_zip_has_gradescopes_two_scripts_and_the_kit_but_no_ta_tools",
    "tests/test_sandbox.py::test_unprivileged_user_gets_rlimit_mode",
    "tests/test_lms.py",
    "tests/test_plots.py",
]


def test_worker_groups_are_files_or_the_named_groups():
    assert worker_group("tests/test_lms.py::test_x[a::b]") == "test_lms.py"
    assert worker_group("tests/test_feedback.py::test_y") == worker_group("tests/test_autograde.py::test_z") == "batch"
    assert {SAME_WORKER[name] for name in ("test_autograde.py", "test_feedback.py", "test_gradescope.py")} == {"batch"}


def test_the_batchs_files_run_on_one_worker():
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-v", "-p", "no:cacheprovider", *QUICK]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    workers = {}
    for worker, path in re.findall(r"\[(gw\d+)\].*?PASSED (tests/\w+\.py)", done.stdout):
        workers.setdefault(path, set()).add(worker)
    batch = [path for path in workers if worker_group(path) == "batch"]
    assert len(batch) == 3 and len(set().union(*(workers[path] for path in batch))) == 1, workers
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers  # each file whole on one worker


def test_the_longest_units_are_handed_out_first():
    """xdist hands the units out in the order of collection (tests/conftest.py turns its own sorting off), which
    conftest's pytest_collection_modifyitems makes LONGEST_FIRST's: the batch's group, then the long files in that
    order, then the others as collected (a stable sort: a unit's tests keep their order)."""
    from types import SimpleNamespace

    from conftest import pytest_collection_modifyitems

    collected = ["tests/test_lms.py::a", "tests/test_time_budget.py::b", "tests/test_feedback.py::c",
                 "tests/test_lms.py::d", "tests/test_confine_nouserns.py::e", "tests/test_autograde.py::f",
                 "tests/test_feedback.py::g", "tests/test_plots.py::h"]  # fmt: skip
    items = [SimpleNamespace(nodeid=nodeid) for nodeid in collected]
    pytest_collection_modifyitems(None, items)
    assert [item.nodeid for item in items] == [
        "tests/test_feedback.py::c", "tests/test_autograde.py::f", "tests/test_feedback.py::g",  # the batch's group
        "tests/test_confine_nouserns.py::e", "tests/test_time_budget.py::b",  # LONGEST_FIRST's order
        "tests/test_lms.py::a", "tests/test_lms.py::d", "tests/test_plots.py::h",  # the others, as collected
    ]  # fmt: skip


def test_workers_that_would_split_a_file_are_refused_with_the_command_to_use():
    """Tests of one file may share the machine's state (the uid mode's tests count every run user's sleepers): with
    `-n` but another --dist than loadfile, one file's tests ran on two workers at once and failed each other (seen
    once). The run is refused at once, naming ./kit test."""
    command = [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "tests/test_plots.py"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4, done.stdout[-3000:] + done.stderr[-3000:]  # pytest's usage error
    assert "--dist loadfile" in done.stderr and "./kit test" in done.stderr
