"""The one grading configuration (grading/instructor/settings.py): its defaults are the command's, a bad value is
refused with the reason before anything is graded, and the sandboxed runs get what it says."""

import json
import os

import numpy as np
import pytest

from grading.instructor import autograde
from grading.instructor.confine.limits import GiB
from grading.instructor.settings import Settings, TimeBudget, training_args
from nndl2 import budget


def test_the_commands_defaults_are_the_settings_defaults(tmp_path):
    args = autograde.options().parse_args([str(tmp_path)])
    default = Settings()
    given = (args.budget, args.whole_budget, args.run_per_gan, args.threads, args.jobs, args.sandbox, args.regrade)
    assert given == (default.budget, default.whole_budget, False, default.threads, default.jobs, default.sandbox, False)
    assert default.run_per_gan is False  # the GANs train in one run
    assert (args.submission_timeout, args.memory * GiB) == (default.time.total, default.limits.memory)
    assert Settings(device=args.device).device == default.device in ("cpu", "cuda")  # "auto", resolved
    assert args.precision == default.precision == "float32"  # the widest margins (grading/ta/seed_distributions.md)
    assert default.workers == max(1, (os.cpu_count() or 1) // default.threads)  # jobs 0: as many as the cores allow


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"budget": "full"}, "budget is one of autograde, smoke, not 'full'"),
        ({"sandbox": "maybe"}, "sandbox is 'on' or 'off'"),
        ({"threads": 0}, "threads must be a whole number of at least 1"),
        ({"jobs": -1}, "jobs must be a whole number"),
        ({"device": "tpu"}, "device is 'auto', 'cpu' or 'cuda'"),
        ({"precision": "float16"}, "precision is one of auto, float32"),
    ],
)
def test_a_bad_setting_is_refused_with_the_reason(bad, why):
    with pytest.raises(ValueError, match=why):
        Settings(**bad)


def test_the_command_refuses_a_bad_setting_before_grading(tmp_path, capsys):
    with pytest.raises(SystemExit):
        autograde.main([str(tmp_path), "--out", str(tmp_path / "out"), "--threads", "0"])
    assert "threads must be a whole number of at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_sandboxed_runs_get_the_settings_as_one_file_and_nothing_else(tmp_path):
    settings = Settings(budget="smoke", threads=2, device="cpu", whole_budget=True, time=TimeBudget(300),
                        precision="float32")  # fmt: skip
    path = settings.write_inside(tmp_path / "settings")
    assert path == tmp_path / "settings" / "settings.json"
    written = {"budget": "smoke", "device": "cpu", "precision": "float32", "whole_budget": True}
    assert json.loads(path.read_text()) == written
    assert settings.inside_env("/grading/settings.json") == {
        "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1", "GAN_KIT_SETTINGS": "/grading/settings.json",
        "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
    }  # fmt: skip
    assert training_args(["dcgan"], "/exports") == ["train", "--gans", "dcgan", "--out", "/exports"]
    assert training_args(["vanilla", "lsgan"], "out") == ["train", "--gans", "vanilla", "lsgan", "--out", "out"]
    # the sandboxed side's reader (student package, no grading/ import) takes exactly what the grader wrote
    assert budget.grader_settings({"GAN_KIT_SETTINGS": str(path)}) == settings.inside()
    assert budget.budget_name({"GAN_KIT_SETTINGS": str(path), "NBGRADER_EXECUTION": "autograde"}) == "smoke"
    assert budget.grader_settings({}) is None and budget.budget_name({"NBGRADER_EXECUTION": "autograde"}) == "autograde"
    # what a submission's result is keyed on, and its kept trainings: another value grades it (or trains it) again
    assert settings.key() == "smoke/2/300/float32" and Settings(precision="float32").key() == "autograde/1/900/float32"
    assert settings.training() == "smoke/whole/cpu/float32"


@pytest.mark.parametrize(
    "content",
    [
        '{"budget": "smoke"}',
        '{"budget": "huge", "device": "cpu", "precision": "float32", "whole_budget": false}',
        '{"budget": "smoke", "device": "cpu", "precision": "auto", "whole_budget": false}',  # the grader resolves it
        '{"budget": "smoke", "device": "cpu", "whole_budget": false}',
        "[]",
    ],
)
def test_a_settings_file_that_is_not_the_graders_is_refused(tmp_path, content):
    (tmp_path / "settings.json").write_text(content)
    with pytest.raises(ValueError, match="not the grader's settings file"):
        budget.grader_settings({"GAN_KIT_SETTINGS": str(tmp_path / "settings.json")})


@pytest.mark.parametrize(("precision", "fast", "resolved"), [
    ("auto", True, "bfloat16"), ("auto", False, "float32"), ("float32", True, "float32"),
])  # fmt: skip
def test_the_training_run_computes_in_the_precision_the_grader_chose(
    tmp_path, monkeypatch, mnist_synthetic, bfloat16_asked, precision, fast, resolved
):
    """The grader resolves the precision ("auto": bfloat16 autocast where the device is fast at it, here as the patched
    check says; "float32": never), writes it in the settings file, and the training run trains in it and says so."""
    import sys

    import nndl2.agent.training
    import nndl2.speed
    from grading.kit import SOLUTION_GAN
    from nndl2.agent import export

    monkeypatch.setattr(nndl2.speed, "bfloat16_is_fast", lambda device: fast)
    chosen = Settings(budget="smoke", device="cpu", precision=precision)
    settings = chosen.write_inside(tmp_path / "settings")
    assert chosen.precision == json.loads(settings.read_text())["precision"] == resolved
    assert chosen.key().endswith(f"/{resolved}") and chosen.training().endswith(f"/{resolved}")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "gan.py").write_text(SOLUTION_GAN.read_text())
    monkeypatch.chdir(tmp_path / "run")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the export puts its folder first
    monkeypatch.delitem(sys.modules, "gan", raising=False)
    monkeypatch.setenv("GAN_KIT_SETTINGS", str(settings))
    monkeypatch.setenv("MNIST_ROOT", str(mnist_synthetic))
    monkeypatch.setattr(nndl2.speed, "bfloat16_is_fast", lambda device: not fast)  # the run follows the file
    trained_with = bfloat16_asked(nndl2.agent.training, "run_a_gan")
    try:
        assert export.main(training_args(["vanilla"], tmp_path / "out")) == 0
    finally:
        sys.modules.pop("gan", None)
    with np.load(tmp_path / "out" / "vanilla" / "vanilla.npz") as saved:
        meta = json.loads(str(saved["__meta__"]))
    assert trained_with == [resolved == "bfloat16"] and meta["iterations"] == 3, meta
    assert meta["precision"] == resolved


def test_auto_is_bfloat16_exactly_where_this_cpu_is_fast_at_it():
    from nndl2.speed import cpu_has_fast_bfloat16

    assert Settings(device="cpu", precision="auto").precision == ("bfloat16" if cpu_has_fast_bfloat16() else "float32")
    assert Settings(device="cpu").precision == "float32"
