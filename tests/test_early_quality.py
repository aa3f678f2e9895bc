"""grading/ta/early_quality.py: the reference's metrics before the grader's first checkpoint, beside the best a ruined
mutant reaches (a TA tool: the evidence on a smaller autograde budget)."""

import json

import pytest

from grading.kit import SOLUTION_GAN
from grading.ta import early_quality as eq
from grading.ta import trajectories as tj


def rows(**by_iteration):
    base = {"recognizable": 0.0, "coverage": 0, "class_distance": 0.9, "inception_score": 1.0, "fid": 400.0}
    return [{"iteration": int(i[1:]), "seconds": int(i[1:]) / 10, **base, **m} for i, m in by_iteration.items()]


def test_the_report_gives_mean_sd_and_range_over_seeds_per_iteration_and_the_ruined_mutants_best(monkeypatch):
    monkeypatch.setattr(eq, "AT", {"vanilla": (200, 300), "lsgan": (200,), "dcgan": (30,)})
    runs = {
        ("vanilla", 0): rows(i200={"fid": 390.0}, i300={"fid": 300.0, "recognizable": 0.1}),
        ("vanilla", 1): rows(i200={"fid": 410.0}, i300={"fid": 340.0, "recognizable": 0.3}),
        ("lsgan", 0): rows(i200={}),
        ("lsgan", 1): rows(i200={}),
        ("dcgan", 0): rows(i30={}),
        ("dcgan", 1): rows(i30={}),
    }
    best = {"vanilla": (20, {"recognizable": 0.002, "coverage": 1, "class_distance": 0.7, "inception_score": 1.05,
                             "fid": 380.0})}  # fmt: skip
    lines = eq.report(runs, best).splitlines()
    assert (
        lines[0] == "| GAN | iteration | seconds | recognizable | coverage | class_distance | inception_score | fid |"
    )
    # fid at 200: mean 400, sd of (390, 410) = 14.14; recognizable at 300: mean 0.2, sd 0.1414
    assert lines[2].startswith("| vanilla | 200 | 20.0 | 0 ± 0 [0, 0] | ") and lines[2].endswith(
        " | 400 ± 14 [390, 410] |")  # fmt: skip
    assert lines[3].startswith("| vanilla | 300 | 30.0 | 0.2 ± 0.14 [0.1, 0.3] | ")
    assert (
        lines[4] == "| vanilla: ruined mutants, best of any evaluation (20 runs) | | | 0.002 | 1 | 0.7 | 1.05 | 380 |"
    )
    assert [line.split(" | ")[:2] for line in lines[5:]] == [["| lsgan", "200"], ["| dcgan", "30"]]  # no ruined rows
    only = eq.report({key: rows for key, rows in runs.items() if key[0] == "dcgan"}, best).splitlines()  # --gans dcgan
    assert [line.split(" | ")[:2] for line in only[2:]] == [["| dcgan", "30"]]


def test_the_ruined_mutants_best_is_taken_over_every_evaluation_of_the_gans_they_ruin_only(tmp_path, monkeypatch):
    data = tmp_path / "trajectories.json"
    runs = [
        {"kind": "mutant", "name": "m", "gan": "vanilla", "seed": 0, "rows": [[600, 0.01, 1, 0.8, 1.1, 390.0],
                                                                             [1200, 0.0, 2, 0.9, 1.0, 401.0]]},
        {"kind": "mutant", "name": "m", "gan": "vanilla", "seed": 1, "rows": [[600, 0.0, 0, 0.7, 1.0, 405.0]]},
        {"kind": "mutant", "name": "w", "gan": "vanilla", "seed": 0, "rows": [[600, 0.5, 9, 0.1, 3.0, 90.0]]},
        {"kind": "mutant", "name": "m", "gan": "dcgan", "seed": 0, "rows": [[150, 0.4, 9, 0.1, 4.0, 80.0]]},
        {"kind": "reference", "name": "reference", "gan": "vanilla", "seed": 0,
         "rows": [[600, 0.2, 7, 0.2, 2.0, 200.0]]},
    ]  # fmt: skip
    data.write_text(json.dumps({"columns": list(tj.COLUMNS), "runs": runs}))
    monkeypatch.setattr(eq, "DATA", data)
    claims = {"m": ("", {"vanilla": "ruins", "dcgan": "open"}), "w": ("", {"vanilla": "open"})}
    monkeypatch.setattr(eq, "corpus_mutants", lambda: claims)
    best = {"recognizable": 0.01, "coverage": 2, "class_distance": 0.7, "inception_score": 1.1, "fid": 390.0}
    assert eq.ruined_best() == {"vanilla": (2, best)}  # m's two vanilla runs; not w (open), not m's DCGAN (open)


def test_the_recorded_ruined_mutants_stay_far_from_good_digits():
    """The kit's own trajectories.json: no evaluation of a ruined GAN covers two digit classes or comes within 300 of
    real digits' FID (one LSGAN mutant's samples are half recognizable: all one digit)."""
    best = eq.ruined_best()
    assert set(best) == {"vanilla", "lsgan", "dcgan"}
    assert all(values["coverage"] <= 1 and values["fid"] > 300 for _, values in best.values())


@pytest.mark.slow
def test_a_trajectory_evaluates_at_the_iterations_asked_and_trains_to_the_last(mnist_synthetic, monkeypatch):
    from nndl2.agent.training import training_batches

    monkeypatch.setenv("MNIST_ROOT", str(mnist_synthetic))
    trained = tj.trajectory(SOLUTION_GAN, "vanilla", 0, training_batches(download=False), at=(3, 5))
    assert [row["iteration"] for row in trained] == [3, 5]
    assert trained[0]["seconds"] < trained[1]["seconds"] and set(tj.SHOWN) <= set(trained[1])
