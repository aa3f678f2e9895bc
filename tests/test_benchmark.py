"""Smoke tests of the TA benchmarks (`python -m grading.ta.benchmark`, `python -m grading.ta.profile_training`):
they run end to end and their --json lines parse.

Only the plumbing is checked (a couple of iterations on synthetic digits); never the timings.
"""

import json
import subprocess
import sys

import pytest

from grading.instructor import autograde
from grading.kit import ROOT
from grading.ta.benchmark import PacedLoader


def test_benchmark_json_smoke(mnist_synthetic):
    command = [sys.executable, "-m", "grading.ta.benchmark", "--iters", "2", "--block", "1", "--warmup", "1"]
    command += ["--root", str(mnist_synthetic), "--json", "--threads", "1", "--precision", "float32"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    results = json.loads(lines[-1])
    assert set(results) == {"vanilla", "dcgan"}
    for model, r in results.items():
        for key in ("classic_ms", "kit_ms", "ratio"):
            assert isinstance(r[key], float) and r[key] > 0, (model, key)
        assert r["iters"] == 2 and r["device"] == "cpu" and r["kit_precision"] == "float32"
        assert r["classic_peak_rss_mib"] > 0 and r["kit_peak_rss_mib"] > 0
    assert "the kit computes in float32" in lines[0]
    assert any(line.startswith("vanilla:") for line in lines) and any("ratio kit/classic" in line for line in lines)


def test_paced_loader_pauses_between_blocks():
    batches = [(list(range(n)), None) for n in (4, 4, 2)]  # two full batches of 4, then a partial one
    pauses = []
    paced = PacedLoader(batches, batch_size=4, warmup=1, block=2, blocks=2, pause=pauses.append)
    sizes = [len(x) for x, _ in paced]
    # 1 warmup + 2 blocks of 2 = 5 full batches, cycling through the loader (partial ones pass through).
    assert sizes == [4, 4, 2, 4, 4, 2, 4]
    assert pauses == [False, False, False, True]  # start, after the warmup, after block 1, end of run


def test_profile_training_json_smoke():
    """`python -m grading.ta.profile_training` counts each GAN's arithmetic and projects the budget from its timing."""
    command = [sys.executable, "-m", "grading.ta.profile_training", "--iters", "1", "--warmup", "0", "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""  # the profiler's own log lines are kept off
    results = json.loads(done.stdout.strip().splitlines()[-1])
    from nndl2.budget import iterations

    assert list(results["gans"]) == ["vanilla", "lsgan", "dcgan"] and results["precision"] == "float32"
    for name, r in results["gans"].items():
        assert r["budget_iters"] == iterations(name, "autograde")
        assert r["budget_seconds"] == pytest.approx(r["budget_iters"] * r["ms_per_iter"] / 1e3)
        assert abs(sum(r["shares"].values()) - 1) < 1e-6
    # the arithmetic of one iteration (forward and backward of D twice and G once), as the benchmark counts it
    assert 1.8 < results["gans"]["vanilla"]["gflop_per_iter"] < 2.1
    assert 19 < results["gans"]["dcgan"]["gflop_per_iter"] < 21
    assert results["gans"]["dcgan"]["shares"]["convolutions"] > 0.1


# -- grading/ta/grading_time.py (grading/ta/trajectories.py: tests/test_trajectories.py) ------------------------


def autograde_commands(monkeypatch, *argv):
    """The autograde commands `python -m grading.ta.grading_time ARGV` starts, up to the first, which fails here."""
    from grading.ta import grading_time

    commands = []

    def run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1, "", "stopped here")

    monkeypatch.setattr(grading_time.subprocess, "run", run)
    with pytest.raises(SystemExit, match="stopped here"):
        grading_time.main(list(argv))
    return commands


@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_grading_time_grades_in_the_precision_it_is_given(precision, monkeypatch, tmp_path):
    """--precision reaches every grading's autograde command (the command's own choices), and the table says which."""
    commands = autograde_commands(monkeypatch, "--precision", precision, "--work", str(tmp_path))
    assert commands and all(c[c.index("--precision") + 1] == precision for c in commands)
    assert autograde.options().parse_args(["x", "--precision", precision]).precision == precision


def test_grading_times_previous_design_trains_the_whole_budget_one_run_per_gan(monkeypatch, tmp_path):
    (previous,) = autograde_commands(monkeypatch, "--work", str(tmp_path))  # the first grading, stopped
    args = autograde.options().parse_args(previous[previous.index("grading.instructor.autograde") + 1 :])
    assert args.whole_budget and args.run_per_gan and args.alike == "off"


def test_grading_time_table_compares_each_grading_with_the_previous_design():
    from grading.ta.grading_time import PREPARED, STAGES, table

    def grading(seconds, scores, prepared=None):
        return {"stages": dict.fromkeys(STAGES, seconds / 5), "seconds": seconds, "wall": seconds / 2,
                "scores": scores, "reused": [], "prepared": prepared}  # fmt: skip

    report = {"previous": grading(200.0, [{"a": 1}]), "this": grading(100.0, [{"a": 1}]),
              "re-grade": grading(50.0, [{"a": 1}]), "alike": grading(20.0, [{"a": 1}], 90.5)}  # fmt: skip
    lines = table(report).splitlines()
    assert lines[-3].split()[-4:] == ["1.00", "0.50", "0.25", "0.10"]
    assert lines[-2] == "alike: the reference solution's runs took 90.5 s first (once a batch)"
    assert lines[-1] == "scores: the same in all four gradings"
    report["alike"]["scores"] = [{"a": 0}]
    assert table(report).splitlines()[-1].startswith("scores: DIFFERENT")
    # the line the autograde command logs (Grader.prepare_alike) is the one read
    assert PREPARED.search("--alike: the reference solution's runs took 86.5 s").group(1) == "86.5"
