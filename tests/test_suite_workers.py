"""./kit test runs the test files on two or more pytest-xdist workers: the files that share a session fixture must
run on one worker, or it is built twice at once (the batch graded twice; the probes' processes they count are named
apart: tests/confine_probes.py). xdist's own grouping (`--dist loadgroup`) silently stopped working on pytest 9.2
(pytest-dev/pytest-xdist#1386); tests/conftest.py's scheduler does it. Here that scheduler (xdist's own
LoadFileScheduling, with conftest's groups) hands out a collection to two workers in one process; in every run of
./kit test, conftest's built_once fails a session fixture that a second worker builds."""

import itertools
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import SAME_WORKER, built_once, pytest_collection_modifyitems, pytest_xdist_make_scheduler, worker_group

from grading.kit import ROOT


def test_worker_groups_are_files_or_the_named_groups():
    assert worker_group("tests/test_lms.py::test_x[a::b]") == "test_lms.py"
    assert worker_group("tests/test_feedback.py::test_y") == worker_group("tests/test_autograde.py::test_z") == "batch"
    assert {SAME_WORKER[name] for name in ("test_autograde.py", "test_feedback.py", "test_gradescope.py")} == {"batch"}


class Worker:
    """What xdist's scheduler sees of a worker: it is sent indexes into its collection, then told to shut down."""

    def __init__(self, name):
        self.gateway = SimpleNamespace(id=name)
        self.sent, self.shutting_down = [], False

    def send_runtest_some(self, indexes):
        self.sent.extend(indexes)

    def shutdown(self):
        self.shutting_down = True


def schedule(collection, finishing):
    """Run conftest's scheduler over `collection` with two workers; `finishing(workers)` picks the worker that
    finishes its next test (the test it was sent first of those not yet done). {worker name: node ids it ran}."""
    config = SimpleNamespace(option=SimpleNamespace(), getvalue=lambda name: ["2*popen"])  # the hook sets its option
    quiet = SimpleNamespace(loadscopesched=lambda *args: None, loadfilesched=lambda *args: None)  # xdist's log
    scheduler = pytest_xdist_make_scheduler(config, log=quiet)
    workers = [Worker("gw0"), Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    done = {worker.gateway.id: [] for worker in workers}
    for _ in range(10 * len(collection)):  # bounded: each step finishes one test
        busy = [w for w in workers if len(done[w.gateway.id]) < len(w.sent)]
        if not busy:
            break
        worker = finishing(busy)
        index = worker.sent[len(done[worker.gateway.id])]
        done[worker.gateway.id].append(collection[index])
        scheduler.mark_test_complete(worker, index)
    assert scheduler.tests_finished and all(worker.shutting_down for worker in workers)
    return done


COLLECTED = [  # as pytest collects the suite (by file name), several tests per file
    f"tests/{name}::test_{n}"
    for name in ("test_autograde.py", "test_confine_nouserns.py", "test_experiments.py", "test_feedback.py",
                 "test_gradescope.py", "test_lms.py", "test_notebook.py", "test_plots.py", "test_time_budget.py")
    for n in range(3)
]  # fmt: skip


@pytest.mark.parametrize("finishing", ["first", "last", "alternating"])
def test_the_scheduler_runs_each_group_whole_on_one_worker_and_every_test_once(finishing):
    items = [SimpleNamespace(nodeid=nodeid) for nodeid in COLLECTED]
    pytest_collection_modifyitems(None, items)  # conftest's order, as the workers collect it
    collection = [item.nodeid for item in items]
    turn = itertools.count()
    pick = {
        "first": lambda busy: busy[0],
        "last": lambda busy: busy[-1],
        "alternating": lambda busy: busy[next(turn) % len(busy)],
    }[finishing]
    ran = schedule(collection, pick)
    assert sorted(ran["gw0"] + ran["gw1"]) == sorted(COLLECTED)  # every test, once
    groups = {}
    for worker, nodeids in ran.items():
        for nodeid in nodeids:
            groups.setdefault(worker_group(nodeid), set()).add(worker)
    assert all(len(workers) == 1 for workers in groups.values()), groups  # each file or group whole on one worker
    assert len(groups) == 6  # the batch's group, the smoke notebook's, and four files


def test_a_session_fixture_built_by_a_second_worker_fails_that_worker(tmp_path, monkeypatch):
    factory = {name: SimpleNamespace(getbasetemp=lambda name=name: tmp_path / name) for name in ("gw0", "gw1")}
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    built_once(factory["gw0"], "batch")
    built_once(factory["gw0"], "smoke_notebook")  # another fixture: its own claim
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    with pytest.raises(pytest.fail.Exception, match="worker gw1 builds the session fixture 'batch' that worker gw0"):
        built_once(factory["gw1"], "batch")
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    built_once(factory["gw1"], "batch")  # no workers: nothing is shared


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
