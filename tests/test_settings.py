"""The one grading configuration (grading/instructor/settings.py): its defaults are the command's, a bad value is
refused with the reason before anything is graded, and the sandboxed runs get what it says."""

import json
import os

import pytest

from grading.instructor import autograde
from grading.instructor.confine.limits import GiB
from grading.instructor.settings import Settings, TimeBudget, training_args
from nndl2 import budget


def test_the_commands_defaults_are_the_settings_defaults(tmp_path):
    args = autograde.options().parse_args([str(tmp_path)])
    default = Settings()
    given = (args.budget, args.whole_budget, args.threads, args.jobs, args.sandbox, args.regrade)
    assert given == (default.budget, default.whole_budget, default.threads, default.jobs, default.sandbox, False)
    assert (args.submission_timeout, args.memory * GiB) == (default.time.total, default.limits.memory)
    assert Settings(device=args.device).device == default.device in ("cpu", "cuda")  # "auto", resolved
    assert default.workers == max(1, (os.cpu_count() or 1) // default.threads)  # jobs 0: as many as the cores allow


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"budget": "full"}, "budget is one of autograde, smoke, not 'full'"),
        ({"sandbox": "maybe"}, "sandbox is 'on' or 'off'"),
        ({"threads": 0}, "threads must be a whole number of at least 1"),
        ({"jobs": -1}, "jobs must be a whole number"),
        ({"device": "tpu"}, "device is 'auto', 'cpu' or 'cuda'"),
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
    settings = Settings(budget="smoke", threads=2, device="cpu", whole_budget=True, time=TimeBudget(300))
    path = settings.write_inside(tmp_path / "settings")
    assert path == tmp_path / "settings" / "settings.json"
    assert json.loads(path.read_text()) == {"budget": "smoke", "device": "cpu", "whole_budget": True}
    assert settings.inside_env("/grading/settings.json") == {
        "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1", "GAN_KIT_SETTINGS": "/grading/settings.json",
        "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
    }  # fmt: skip
    assert training_args("dcgan", "/exports") == ["train", "--gans", "dcgan", "--out", "/exports"]
    # the sandboxed side's reader (student package, no grading/ import) takes exactly what the grader wrote
    assert budget.grader_settings({"GAN_KIT_SETTINGS": str(path)}) == settings.inside()
    assert budget.budget_name({"GAN_KIT_SETTINGS": str(path), "NBGRADER_EXECUTION": "autograde"}) == "smoke"
    assert budget.grader_settings({}) is None and budget.budget_name({"NBGRADER_EXECUTION": "autograde"}) == "autograde"
    # what a submission's result is keyed on, and its kept trainings: another value grades it (or trains it) again
    assert settings.key() == "smoke/2/300" and Settings().key() == "autograde/1/900"
    assert settings.training() == "smoke/whole/cpu" and Settings(device="cpu").training() == "autograde/cpu"


@pytest.mark.parametrize(
    "content", ['{"budget": "smoke"}', '{"budget": "huge", "device": "cpu", "whole_budget": false}', "[]"]
)
def test_a_settings_file_that_is_not_the_graders_is_refused(tmp_path, content):
    (tmp_path / "settings.json").write_text(content)
    with pytest.raises(ValueError, match="not the grader's settings file"):
        budget.grader_settings({"GAN_KIT_SETTINGS": str(tmp_path / "settings.json")})
