"""The grader's kept trainings (grading/instructor/judging/trained.py): handed back only for the same gan.py
and settings. Through the real command: the batch keeps what it trained (tests/test_autograde.py) and a re-grade
after a change to the grading files trains nothing and judges the same (tests/test_feedback.py). Last, what a
training run that dies keeps and costs (Grader.train, in the sandbox)."""

import json

import pytest

from grading.instructor.judging import trained
from grading.instructor.judging.trained import Kept


@pytest.fixture
def files(tmp_path):
    gan_py = tmp_path / "gan.py"
    gan_py.write_text("x = 1\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "dcgan.npz").write_bytes(b"trained weights")
    return gan_py, run


def test_a_kept_training_is_handed_back_for_the_same_gan_py_only(tmp_path, files):
    gan_py, run = files
    kept = Kept(tmp_path / "trained", "autograde", 1)
    into = tmp_path / "into"
    into.mkdir()
    assert not kept.get("ana", "dcgan", gan_py, into)  # nothing kept yet
    kept.keep("ana", "dcgan", gan_py, run)
    assert kept.get("ana", "dcgan", gan_py, into) and (into / "dcgan.npz").read_bytes() == b"trained weights"
    assert not kept.get("ana", "vanilla", gan_py, into)  # another GAN
    assert not kept.get("ben", "dcgan", gan_py, into)  # another student
    gan_py.write_text("x = 2\n")  # gan.py changed: trained again
    assert not kept.get("ana", "dcgan", gan_py, into)


def test_a_run_that_wrote_nothing_keeps_nothing_and_a_bad_stamp_is_a_miss(tmp_path, files):
    gan_py, run = files
    kept = Kept(tmp_path / "trained", "autograde", 1)
    kept.keep("ana", "lsgan", gan_py, run)  # no lsgan.npz in the run
    assert not (tmp_path / "trained" / "ana" / "lsgan.json").exists()
    kept.keep("ana", "dcgan", gan_py, run)
    (tmp_path / "trained" / "ana" / "dcgan.json").write_text("{not json")
    assert not kept.get("ana", "dcgan", gan_py, tmp_path)


@pytest.mark.parametrize("change", ["budget", "threads", "package", "data"])
def test_the_key_changes_with_everything_training_depends_on(tmp_path, files, monkeypatch, change):
    gan_py, _ = files
    package, data = tmp_path / "nndl2", tmp_path / "mnist"
    (package / "MNIST").mkdir(parents=True)
    (package / "training.py").write_text("STEPS = 1\n")
    (data / "MNIST" / "raw").mkdir(parents=True)
    (data / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"digits")
    monkeypatch.setattr(trained, "PACKAGE", package)
    before = Kept(tmp_path / "t", "autograde", 1, data).key(gan_py, "dcgan")
    (package / "MNIST" / "downloaded").write_bytes(b"not the package")  # the package's downloaded data is not code
    assert Kept(tmp_path / "t", "autograde", 1, data).key(gan_py, "dcgan") == before
    budget, threads = "autograde", 1
    if change == "budget":
        budget = "autograde/whole"
    elif change == "threads":
        threads = 2
    elif change == "package":
        (package / "training.py").write_text("STEPS = 2\n")
    else:
        (data / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"other digits")
    assert Kept(tmp_path / "t", budget, threads, data).key(gan_py, "dcgan") != before
    assert json.loads(Kept(tmp_path / "t", budget, threads, data).settings)["torch"]


def test_a_gan_that_kills_the_shared_training_run_costs_only_its_own_verdict(tmp_path, mnist_real):
    """In the sandbox (grading/instructor/autograde.py Grader.train): a gan.py whose LSGAN loss ends the process at
    training time. The training run trains the vanilla GAN, then dies in the LSGAN; the LSGAN and the DCGAN train
    again in a run of their own, where the LSGAN, now first, dies again, and only its Inline Question says so; the
    DCGAN then trains in a run of its own and is kept; the vanilla GAN's export outlives the runs after it, and
    nothing of the runs that died is kept."""
    from types import SimpleNamespace

    from grading.instructor import autograde
    from grading.instructor.confine.limits import GiB, Limits
    from grading.instructor.settings import Settings
    from grading.kit import SOLUTION_GAN

    dies = (
        "\n\n_ls_generator_loss = ls_generator_loss\n\n\ndef ls_generator_loss(scores_fake):\n"
        "    if scores_fake.shape[0] == 128:  # a training batch (the grader's function export draws 20-59)\n"
        "        import os\n\n        os._exit(3)\n    return _ls_generator_loss(scores_fake)\n"
    )
    staged = tmp_path / "gan.py"
    staged.write_text(SOLUTION_GAN.read_text() + dies)
    log = []
    settings = Settings(budget="smoke", mnist_root=mnist_real, threads=1, limits=Limits(memory=2 * GiB, processes=128))
    grader = autograde.Grader(tmp_path / "out", settings, log=log.append)
    run = autograde.Run(SimpleNamespace(key="ada"), tmp_path / "work", settings.time.start(), staged={"gan": staged})
    grader.run_exports(run)
    steps = sorted(path.name for path in run.work.glob("training*.outcome.json"))
    assert steps == ["training-dcgan.outcome.json", "training-lsgan.outcome.json", "training.outcome.json"]
    assert [line.split(": ", 1)[1] for line in log if "training again" in line] == [
        "the lsgan, dcgan did not train in the grader's training run: training again",
        "the dcgan did not train in the grader's training run: training again",
    ], log
    messages = {item: run.verdicts[item].message for item in ("test_inline_q1", "test_inline_q2", "test_inline_q3")}
    stopped = "Inline Question 2: no trained LSGAN (the grader's training run stopped before it)."
    assert messages["test_inline_q2"] == stopped
    assert messages["test_inline_q1"].startswith("Inline Question 1: 1,000 samples of your trained vanilla GAN (3 ")
    assert messages["test_inline_q3"].startswith("Inline Question 3: 1,000 samples of your trained DCGAN (3 ")
    assert sorted(path.name for path in (tmp_path / "out" / "trained" / "ada").glob("*.npz")) == ["dcgan.npz"]
