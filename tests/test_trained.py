"""The grader's kept trainings (grading/instructor/judging/trained.py): handed back only for the same gan.py
and settings. Through the real command: the batch keeps what it trained (tests/test_autograde.py) and a re-grade
after a change to the grading files trains nothing and judges the same (tests/test_feedback.py). Last, what a
training run that dies keeps and costs (Grader.train, in the sandbox)."""

import json
import sys

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
    # a trusted solution's run handed to this gan.py (--alike) comes back only while that solution's runs are
    # handed on: not with --alike off, nor once the solution is no longer trusted (another id)
    kept.keep("ana", "dcgan", gan_py, run, alike="a1b2")
    assert not kept.get("ana", "dcgan", gan_py, into) and kept.get("ana", "dcgan", gan_py, into, alike={"a1b2"})
    assert not kept.get("ana", "dcgan", gan_py, into, alike={"c3d4"})
    kept.paths("ana", "dcgan")[1].write_text(json.dumps({"key": kept.key(gan_py, "dcgan"), "alike": True}))
    assert not kept.get("ana", "dcgan", gan_py, into, alike={"a1b2"})  # kept before the ids: trained again


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


# -- GANs that train as the reference's (trained.Alike, Grader.prepare_alike and go_on_alike) ----------------------


def export_runs(tmp_path, monkeypatch, mnist_real, gan_text, name, **options):
    """nndl2.agent.export's training of the vanilla GAN at the smoke budget with `gan_text` as gan.py, in this
    process (as the sandboxed run does it); the folder it wrote."""
    from nndl2.agent.export import export_training

    folder = tmp_path / name
    folder.mkdir()
    (folder / "gan.py").write_text(gan_text)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("MNIST_ROOT", str(mnist_real))
    monkeypatch.delitem(sys.modules, "gan", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # export_training puts the folder first
    assert export_training(folder / "out", "smoke", ["vanilla"], device="cpu", **options) == 0
    monkeypatch.delitem(sys.modules, "gan", raising=False)
    return folder / "out" / "vanilla"


def arrays(path):
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files if key != "__meta__"}


def test_a_probe_digest_is_of_the_weights_in_order_and_a_malformed_probe_has_none(tmp_path):
    import numpy as np

    from nndl2.agent.export import save_npz

    weights = {"w0": np.arange(6, dtype=np.float32).reshape(2, 3), "w1": np.ones(3, dtype=np.float32)}

    def digest(name, meta, arrays):
        save_npz(tmp_path / name, meta, arrays)
        return trained.probe_digest(tmp_path / name)

    reference = digest("a.npz", {"iterations": 30, "names": ["x.weight", "x.bias"]}, weights)
    assert reference is not None
    assert digest("b.npz", {"iterations": 30, "names": ["fc.weight", "fc.bias"]}, weights) == reference  # names
    assert digest("c.npz", {"iterations": 10}, weights) != reference  # another length of probe
    assert digest("d.npz", {"iterations": 30}, {"w0": weights["w1"], "w1": weights["w0"]}) != reference  # order
    assert digest("e.npz", {"iterations": 30}, {**weights, "w1": weights["w1"] + 1e-7}) != reference  # one bit
    assert digest("f.npz", {"iterations": 30}, {**weights, "extra": weights["w1"]}) is None
    (tmp_path / "g.npz").write_bytes(b"not a probe")
    (tmp_path / "h.npz").symlink_to(tmp_path / "a.npz")
    assert trained.probe_digest(tmp_path / "g.npz") is None and trained.probe_digest(tmp_path / "h.npz") is None
    assert trained.probe_digest(tmp_path / "missing.npz") is None


def test_a_styles_probe_is_noted_first_and_its_run_is_handed_on_only_once_trained_with_that_probe(tmp_path):
    """trained.Alike for a style: its probe's digest is kept alone first (no run to hand on); its run is kept only
    with the probe noted; a submission's digest then gets that run, marked as the style's."""
    import numpy as np

    from nndl2.agent.export import save_npz

    kept = trained.Kept(tmp_path / "trained", "autograde", 1)
    style_py = tmp_path / "style.py.txt"
    style_py.write_text("# a style\n")
    style = trained.Alike(tmp_path / "trained", kept, "a_style", style_py)
    reference = trained.Alike(tmp_path / "trained", kept)
    assert style.root != reference.root  # each solution's runs apart
    weights = {"w0": np.ones(3, dtype=np.float32)}
    save_npz(tmp_path / "probe.npz", {"iterations": trained.PROBE["dcgan"]}, weights)
    save_npz(tmp_path / "other.npz", {"iterations": trained.PROBE["dcgan"]}, {"w0": np.zeros(3, dtype=np.float32)})
    save_npz(tmp_path / "run.npz", {"iterations": 180, "budget": "autograde"}, {"g_p0": np.ones(2, dtype=np.float32)})
    digest = trained.probe_digest(tmp_path / "probe.npz")
    assert style.digest("dcgan") is None and style.note("dcgan", tmp_path / "probe.npz")
    assert style.digest("dcgan") == digest and not style.has_run("dcgan")
    assert not style.get("dcgan", digest, tmp_path)  # no run yet
    assert not style.keep("dcgan", tmp_path / "other.npz", tmp_path / "run.npz")  # not the probe noted
    assert not style.has_run("dcgan") and style.keep("dcgan", tmp_path / "probe.npz", tmp_path / "run.npz")
    into = tmp_path / "into"
    into.mkdir()
    assert not style.get("dcgan", trained.probe_digest(tmp_path / "other.npz"), into) and not any(into.iterdir())
    assert style.get("dcgan", digest, into)
    with np.load(into / "dcgan.npz", allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        assert (data["g_p0"] == 1).all()
    assert meta["alike"] == trained.PROBE["dcgan"] and meta["alike_style"] == "a_style" and meta["iterations"] == 180
    # a stamp kept by an older grader (no "run" in it) is a probe without a run: the run trains again
    style.paths("dcgan")[1].write_text(json.dumps({"probe": digest, "iterations": trained.PROBE["dcgan"]}))
    assert style.digest("dcgan") == digest and not style.has_run("dcgan") and not style.get("dcgan", digest, into)
    style.forget("dcgan")
    assert style.digest("dcgan") is None and not any(path.exists() for path in style.paths("dcgan"))


@pytest.mark.slow
def test_a_probe_is_the_start_of_the_training_run_and_equal_probes_train_alike(tmp_path, monkeypatch, mnist_real,
                                                                              one_thread):  # fmt: skip
    """A probe (--probe-only) exports G's weights after its iterations and nothing else, the same as the whole run
    exports at that iteration; a student's style that trains as the reference has its digest and, trained whole,
    the reference's export bit for bit; a single-fault mutant of the vanilla GAN's training has another digest."""
    import corpus

    from grading.kit import SOLUTION_GAN

    probe = {"probe": {"vanilla": 2}}
    whole = export_runs(tmp_path, monkeypatch, mnist_real, SOLUTION_GAN.read_text(), "whole", **probe)
    alone = export_runs(tmp_path, monkeypatch, mnist_real, SOLUTION_GAN.read_text(), "alone", probe_only=True, **probe)
    assert sorted(p.name for p in alone.iterdir()) == ["vanilla.probe.npz"]
    reference = trained.probe_digest(whole / "vanilla.probe.npz")
    assert reference is not None and trained.probe_digest(alone / "vanilla.probe.npz") == reference
    style = export_runs(
        tmp_path, monkeypatch, mnist_real, corpus.gan_text("module_subclass_functional"), "style", **probe
    )
    assert trained.probe_digest(style / "vanilla.probe.npz") == reference
    ours, theirs = arrays(whole / "vanilla.npz"), arrays(style / "vanilla.npz")
    assert ours.keys() == theirs.keys() and all((ours[k] == theirs[k]).all() for k in ours)
    text = corpus.gan_text("mutant_module_subclass_functional_discriminator_loss")
    mutant = export_runs(tmp_path, monkeypatch, mnist_real, text, "mutant", probe_only=True, **probe)
    assert trained.probe_digest(mutant / "vanilla.probe.npz") not in (None, reference)


def test_alike_is_off_for_small_batches_unconfined_runs_untested_settings_and_short_budgets(tmp_path, monkeypatch):
    from grading.instructor import autograde
    from grading.instructor.settings import Settings

    cases = [  # (settings, submissions, what the log says)
        (Settings(alike="auto"), trained.ALIKE_BATCH - 1, None),
        (Settings(alike="on", sandbox="off"), 100, "--alike: off, as --sandbox is off"),
        (Settings(alike="on", whole_budget=True), 100, "--alike: off: its evidence"),
        (Settings(alike="on", precision="bfloat16"), 100, "--alike: off: its evidence"),
        (Settings(alike="on", budget="smoke"), 100, None),  # 3 iterations: no longer than a probe
    ]
    for number, (settings, submissions, said) in enumerate(cases):
        log = []
        grader = autograde.Grader(tmp_path / f"out{number}", settings, log=log.append)
        monkeypatch.setattr(grader, "export", lambda *a, **k: pytest.fail("nothing may train"))
        grader.prepare_alike(submissions)
        told = [line for line in log if line.startswith("--alike")]
        assert grader.probe == {} and len(told) == (1 if said else 0) and all(line.startswith(said) for line in told)


def test_a_container_uses_what_setup_kept_and_trains_nothing(tmp_path, monkeypatch):
    """kept_only (a Gradescope container): without the reference's runs --alike is off, and a reference probe kept
    without its run stays as it is; with them, a style kept with its probe but not its run (its run failed at
    setup) is never trained here: its GAN trains as the submission's own."""
    import numpy as np

    from grading.instructor import autograde
    from grading.instructor.settings import Settings
    from nndl2.agent.export import save_npz

    log = []
    grader = autograde.Grader(tmp_path / "container", Settings(alike="on"), log=log.append)
    monkeypatch.setattr(grader, "export", lambda *a, **k: pytest.fail("nothing may train or probe"))
    reference, style = grader.alike[0], grader.alike[1]
    for gan, n in trained.PROBE.items():
        save_npz(tmp_path / f"{gan}.probe.npz", {"iterations": n}, {"w0": np.full(3, n, dtype=np.float32)})
    save_npz(tmp_path / "run.npz", {"iterations": 180, "budget": "autograde"}, {"g_p0": np.ones(2, dtype=np.float32)})
    assert reference.note("vanilla", tmp_path / "vanilla.probe.npz")  # its probe, not its run
    grader.prepare_alike(1, kept_only=True)
    said = "--alike: off: the reference solution's runs were not kept for this CPU kind, PyTorch and these settings"
    assert grader.probe == {} and [line for line in log if line.startswith("--alike")] == [
        said + " (when the autograder was set up): every GAN trains"
    ]
    assert reference.digest("vanilla") is not None  # left as it was
    for gan in trained.PROBE:
        assert reference.keep(gan, tmp_path / f"{gan}.probe.npz", tmp_path / "run.npz")
    assert style.note("dcgan", tmp_path / "lsgan.probe.npz")  # another probe than the reference's, no run
    grader = autograde.Grader(tmp_path / "container", Settings(alike="on"), log=log.append)
    monkeypatch.setattr(grader, "export", lambda *a, **k: pytest.fail("nothing may train or probe"))
    grader.prepare_alike(1, kept_only=True)
    assert grader.probe == trained.PROBE and grader.failed == {(style.name, "dcgan")}
    with pytest.raises(ValueError, match="alike is 'auto', 'on' or 'off'"):
        Settings(alike="yes")


@pytest.mark.parametrize("hangs", [False, True])
def test_a_probe_that_hands_nothing_on_costs_the_training_no_time_unless_it_hung(tmp_path, monkeypatch, hangs):
    """A probe whose GANs all train (here: it wrote nothing) gives its time back to the submission's clock, so the
    training runs get what they would have had without it; a probe stopped at its limit (a hang) does not."""
    import time
    from types import SimpleNamespace

    from grading.instructor import autograde
    from grading.instructor.settings import Settings

    grader = autograde.Grader(tmp_path / "out", Settings(sandbox="off"), log=print)
    grader.probe = {"vanilla": 30, "dcgan": 10}

    def probe(*args, **kwargs):
        time.sleep(0.3)
        return autograde.Ended("time limit (9 s) reached", "in gan.py line 3", 9.0, []) if hangs else autograde.Ended(
            "", None, None, [])  # fmt: skip

    monkeypatch.setattr(grader, "export", probe)
    run = autograde.Run(SimpleNamespace(key="ada"), tmp_path / "work", Settings().time.start())
    started = run.clock.started
    training = tmp_path / "work" / "exports" / "training"
    assert grader.go_on_alike(run, ["vanilla", "lsgan", "dcgan"], tmp_path / "gan.py", training) == [
        "vanilla", "lsgan", "dcgan"]  # fmt: skip
    assert run.alike == [] and run.phases["probe"] >= 0.3
    moved = run.clock.started - started
    assert (moved == 0) if hangs else (moved >= 0.3)


@pytest.mark.parametrize("training", ["ends well", "writes nothing", "cannot start"])
def test_a_styles_run_trains_once_for_the_first_submission_whose_probe_is_its_and_its_wait_is_given_back_once(
    tmp_path, monkeypatch, training
):
    """Grader.go_on_alike and hand_on, the sandboxed runs replaced: a submission whose vanilla probe is a style's
    (noted, its run not trained yet) waits for that run (trained.Alike) and gets it; the wait and the probe are each
    given back to its clock once; the next such submission trains nothing more. A style's run that ends badly, or
    whose sandbox cannot start, is tried once: every submission then trains that GAN itself."""
    import time
    from types import SimpleNamespace

    import numpy as np

    from grading.instructor import autograde
    from grading.instructor.settings import Settings
    from nndl2.agent.export import save_npz

    grader = autograde.Grader(tmp_path / "out", Settings(sandbox="off"), log=print)
    grader.probe = {"vanilla": 30, "dcgan": 10}
    style = grader.alike[1]
    ours = {"w0": np.ones(3, dtype=np.float32)}  # the style's vanilla probe; the submissions' DCGAN probe is no one's
    save_npz(tmp_path / "noted.npz", {"iterations": 30}, ours)
    assert style.note("vanilla", tmp_path / "noted.npz")
    steps = []

    def export(run, step, args, out, timeout, **kwargs):
        steps.append(step)
        time.sleep(0.3 if step == "probe" else 0.5)
        if step == "training" and training == "cannot start":
            raise RuntimeError("the sandbox could not start: no user namespaces")
        if step == "probe":
            for gan, n, weights in (("vanilla", 30, ours), ("dcgan", 10, {"w0": np.zeros(2, dtype=np.float32)})):
                (out / gan).mkdir(parents=True)
                save_npz(out / gan / f"{gan}.probe.npz", {"iterations": n}, weights)
        elif training == "ends well":
            (out / "vanilla").mkdir(parents=True)
            save_npz(out / "vanilla" / "vanilla.probe.npz", {"iterations": 30}, ours)
            save_npz(out / "vanilla" / "vanilla.npz", {"iterations": 840, "budget": "autograde"}, {"g_p0": ours["w0"]})
        return autograde.Ended("", None, None, [])

    monkeypatch.setattr(grader, "export", export)
    gan_py = tmp_path / "gan.py"
    gan_py.write_text("# a student's gan.py\n")
    for number, student in enumerate(("ada", "ben")):
        run = autograde.Run(SimpleNamespace(key=student), tmp_path / student, Settings().time.start())
        training_folder = tmp_path / student / "exports" / "training"
        for gan in ("vanilla", "dcgan"):
            (training_folder / gan).mkdir(parents=True)
        started = run.clock.started
        left = grader.go_on_alike(run, ["vanilla", "lsgan", "dcgan"], gan_py, training_folder)
        moved = run.clock.started - started
        waited = 0.5 if number == 0 else 0  # the style's run trains (or is tried) for the first submission only
        assert waited + 0.3 <= moved < waited + 0.3 + 0.25  # the probe's time (a GAN trains) and the wait, once each
        if training == "ends well":
            assert left == ["lsgan", "dcgan"] and run.alike == ["vanilla"] and run.alike_of == {"vanilla": style.id}
            assert (training_folder / "vanilla" / "vanilla.npz").is_file()
        else:
            assert left == ["vanilla", "lsgan", "dcgan"] and run.alike == []
            assert (style.name, "vanilla") in grader.failed
    assert steps == ["probe", "training", "probe"]


def test_a_result_handed_the_references_runs_is_graded_again_when_every_gan_trains(tmp_path):
    from grading.instructor import autograde
    from grading.instructor.settings import Settings

    grader = autograde.Grader(tmp_path / "out", Settings(sandbox="off"), log=print)
    trained_itself = {"key": "k", "alike": [], "alike_of": {}}
    handed = {"key": "k", "alike": ["vanilla"], "alike_of": {"vanilla": grader.alike[-1].id}}
    assert grader.reusable(trained_itself, "k") and not grader.reusable(trained_itself, "other")
    assert not grader.reusable(handed, "k")  # --alike is off for this batch: train it
    grader.probe = {"vanilla": 30}
    assert grader.reusable(handed, "k") and grader.reusable(trained_itself, "k")
    assert not grader.reusable(handed | {"alike_of": {"vanilla": "a solution no longer trusted"}}, "k")
    assert not grader.reusable({"key": "k", "alike": ["vanilla"]}, "k")  # graded before the ids were kept


@pytest.mark.slow
def test_gans_that_train_as_the_references_go_on_with_its_run_and_no_submission_feeds_it(tmp_path, mnist_real,
                                                                                        monkeypatch):  # fmt: skip
    """In the sandbox, at the smoke budget with probes of 1-2 iterations: the reference solution is trained first,
    and the styles' solutions (trained.trusted) probed; a style that trains as the reference does in every GAN trains
    nothing (its Inline Questions say whose run they judged); a mutant of the LSGAN's generator loss in another style
    trains the LSGAN itself, goes on with the reference's vanilla GAN, and with the DCGAN of the style whose DCGAN
    trains as its does (lsgan_shape1_bcewithlogits, trained then, once); what the trusted runs hold is never
    replaced by a submission's."""
    from types import SimpleNamespace

    import corpus

    from grading.instructor import autograde
    from grading.instructor.confine.limits import GiB, Limits
    from grading.instructor.settings import Settings
    from grading.ta.grading_time import PREPARED

    monkeypatch.setattr(trained, "PROBE", {"vanilla": 1, "lsgan": 1, "dcgan": 2})
    limits = Limits(memory=2 * GiB, processes=128)
    settings = Settings(budget="smoke", mnist_root=mnist_real, threads=1, limits=limits, alike="on")
    log = []
    grader = autograde.Grader(tmp_path / "out", settings, log=log.append)
    grader.prepare_alike(1)
    assert grader.probe == trained.PROBE
    assert any(PREPARED.search(line) for line in log), log  # the line grading_time reads
    reference, *styles = grader.alike
    kept = {path.name: path.read_bytes() for path in reference.root.glob("*.*")}
    assert sorted(kept) == sorted(f"{gan}.{ext}" for gan in trained.PROBE for ext in ("json", "npz"))
    assert [s.name for s in styles] == list(trained.trusted())[1:] and "lsgan_shape1_bcewithlogits" in trained.trusted()
    assert all(s.digest(gan) and not s.has_run(gan) for s in styles for gan in trained.PROBE)  # probed, not trained

    def graded(name):
        staged = tmp_path / name / "gan.py"
        staged.parent.mkdir()
        staged.write_text(corpus.gan_text(name))
        run = autograde.Run(SimpleNamespace(key=name), tmp_path / "work" / name, settings.time.start(),
                            staged={"gan": staged})  # fmt: skip
        grader.run_exports(run)
        return run

    style = graded("sequential_provided_flatten")
    assert style.alike == ["vanilla", "lsgan", "dcgan"] and "training" not in style.phases
    # kept for re-grades as a run of its gan.py (a re-grade probes nothing)
    assert len(list((tmp_path / "out" / "trained" / "sequential_provided_flatten").glob("*.npz"))) == 3
    for item, title in (("test_inline_q1", "vanilla GAN"), ("test_inline_q3", "DCGAN")):
        said = f"your {title}'s generator held the reference solution's weights bit for bit"
        assert said in style.verdicts[item].message
    mutant = graded("mutant_torch_flatten_inplace_ls_generator_loss")
    assert mutant.alike == ["vanilla", "dcgan"] and mutant.phases["training"] > 0
    assert "1,000 samples of your trained LSGAN (3 iterations)" in mutant.verdicts["test_inline_q2"].message
    said = "your DCGAN's generator held the weights of a correct solution written in another common style bit for bit"
    assert said in mutant.verdicts["test_inline_q3"].message
    style = next(s for s in styles if s.name == "lsgan_shape1_bcewithlogits")
    assert style.has_run("dcgan") and not any(s.has_run(gan) for s in styles for gan in ("vanilla", "lsgan"))
    assert sum(line.startswith("--alike: the lsgan_shape1_bcewithlogits style's dcgan run took") for line in log) == 1
    assert {path.name: path.read_bytes() for path in reference.root.glob("*.*")} == kept
    # Where each submission has a grader of its own (Gradescope's containers), setup.sh's grader trains every
    # style's run a submission may be handed (train_styles: a probe no solution before it has) and a container's
    # grader, on the same folder, hands them on with nothing kept trained or probed again (kept_only).
    grader.train_styles()
    for number, source in enumerate(grader.alike[1:], 1):
        for gan in trained.PROBE:
            new = all(other.digest(gan) != source.digest(gan) for other in grader.alike[:number])
            assert source.has_run(gan) == new, (source.name, gan)
    grader = autograde.Grader(tmp_path / "out", settings, log=log.append)
    for step in ("train_trusted", "probe_styles"):
        monkeypatch.setattr(grader, step, lambda *args, step=step: pytest.fail(f"{step}: kept, not again"))
    grader.prepare_alike(1, kept_only=True)
    assert grader.probe == trained.PROBE
    style = graded("torch_flatten_inplace")
    assert style.alike == ["vanilla", "lsgan", "dcgan"] and "training" not in style.phases
    assert len(set(style.alike_of.values())) == 2  # the reference's vanilla GAN and LSGAN, a style's DCGAN


@pytest.mark.parametrize("marks", [{}, {"alike": 30}, {"alike": 10, "alike_style": "a_style"}])
def test_the_notebooks_replay_says_whose_run_it_shows(tmp_path, monkeypatch, capsys, marks):
    """The training cell's replay of the grader's run says whether it is this gan.py's own run, the reference's
    (--alike) or a style's solution's, and loads the generator either way."""
    import numpy as np
    import torch

    from nndl2.agent.export import save_npz
    from nndl2.agent.replay import REPLAY, replayer

    G = torch.nn.Linear(2, 2)
    weights = {"g_p0": np.full((2, 2), 0.5, dtype=np.float32), "g_p1": np.zeros(2, dtype=np.float32)}
    history = {f"history_{key}": np.ones(3) for key in ("d_loss", "g_loss", "d_real", "d_fake")}
    (tmp_path / "dcgan").mkdir()
    meta = {"iterations": 210, "budget": "autograde"} | marks
    save_npz(tmp_path / "dcgan" / "dcgan.npz", meta, weights | history | {"images": np.zeros((1, 4), np.float32)})
    monkeypatch.setenv(REPLAY, str(tmp_path))
    kept = {}
    assert len(replayer("dcgan")(None, G, None, None, None, None, None, history=kept)) == 1
    assert (G.weight == 0.5).all() and kept["d_loss"] == [1.0, 1.0, 1.0]
    said = " ".join(capsys.readouterr().out.split())
    own = "this is the grader's own training run of your gan.py (210 iterations, autograde budget)"
    reference = "held the reference solution's weights bit for bit, so the grader went on with the reference's"
    style = "held the weights of a correct solution written in another common style bit for bit, so the grader went on"
    alike, of_style = "alike" in marks, "alike_style" in marks
    assert [own in said, reference in said, style in said] == [not alike, alike and not of_style, of_style]
    assert not alike or f"after the first {marks['alike']} iterations of the grader's training run" in said
