"""grading/ta/trajectories.py: where the grader's training runs stop, and the training-breaking mutants over seeds
(a TA tool). Nothing here trains: the runs are written by hand, or are the kit's recorded ones."""

import json
from pathlib import Path

import pytest

from grading.ta import trajectories as tj
from nndl2.quality import THRESHOLDS


def row(iteration, **metrics):
    base = {"recognizable": 0.0, "coverage": 0, "class_distance": 0.9, "inception_score": 1.0, "fid": 400.0}
    return {"iteration": iteration, "seconds": iteration / 10, **base, **metrics}


def test_a_trajectory_stops_at_the_first_checkpoint_met_with_room_else_at_the_end():
    at, total = tj.checkpoints("dcgan")
    assert (at, total) == ([150, 180, 210, 240, 270], 300)  # the autograde budget's 300 iterations
    limits = THRESHOLDS["dcgan"]
    just = {"recognizable": limits["min_recognizable"], "coverage": 10, "class_distance": 0.0,
            "inception_score": 9.0, "fid": 0.0}  # fmt: skip
    good = {**just, "recognizable": limits["min_recognizable"] * 1.2}
    rows = [{"iteration": i, "seconds": i / 10, **(good if i >= 210 else just)} for i in [*at, total]]
    assert tj.stop(rows, "dcgan", total) == (210, rows[2])  # 150 and 180 meet the limit exactly: no room
    never = [{**row, **just} for row in rows]
    assert tj.stop(never, "dcgan", total) == (300, never[-1])


def test_a_run_replaces_the_recorded_run_of_the_same_key_and_the_others_stay():
    recorded = {"kind": "mutant", "name": "m", "gan": "dcgan", "mnist_root": "/old", "rows": [[300, *[0.5] * 5]]}
    other = {**recorded, "seed": 1}
    data = {"columns": list(tj.COLUMNS), "runs": [{**recorded, "seed": 0}, other]}
    fresh = {"kind": "mutant", "name": "m", "gan": "dcgan", "seed": 0, "mnist_root": "/new",
             "rows": [row(150, recognizable=0.123456789), row(300, coverage=3)]}  # fmt: skip
    runs = tj.merged(data, [fresh])["runs"]
    assert runs[1] == other  # not run again: kept as recorded
    assert runs[0]["mnist_root"] == "/new" and runs[0]["rows"][0] == [150, 0.123457, 0.0, 0.9, 1.0, 400.0]
    assert tj.rows_of(runs[0])[1] == {"iteration": 300, "recognizable": 0.0, "coverage": 3.0,
                                      "class_distance": 0.9, "inception_score": 1.0, "fid": 400.0}  # fmt: skip
    assert tj.merged(data, []) == {"columns": list(tj.COLUMNS), "runs": sorted(data["runs"], key=tj.run_key)}
    assert json.loads(tj.dump(tj.merged(data, [fresh]))) == tj.merged(data, [fresh])


def as_run(seed, rows, gan="dcgan"):
    return {"kind": "mutant", "name": "m", "gan": gan, "seed": seed, "rows": [[r[c] for c in tj.COLUMNS] for r in rows]}


def test_a_mutants_summary_counts_the_seeds_meeting_the_thresholds_and_each_bound_at_any_evaluation():
    """Four seeds of a DCGAN mutant: one meets every threshold at one checkpoint only (and fails at the end): it counts
    as passing; the others miss recognizable and, some of them, the inception score, at every evaluation."""
    limits = THRESHOLDS["dcgan"]
    good = {"recognizable": limits["min_recognizable"] + 0.01, "coverage": 10, "class_distance": 0.1,
            "inception_score": limits["min_inception_score"] + 0.1, "fid": 10.0}  # fmt: skip
    low_is = {"inception_score": limits["min_inception_score"] - 0.1}
    runs = [
        as_run(0, [row(150, **{**good, "recognizable": 0.1}), row(300, **{**good, "recognizable": 0.1, **low_is})]),
        as_run(1, [row(150, **{**good, "recognizable": 0.1, **low_is}), row(300, **{**good, "recognizable": 0.2})]),
        as_run(2, [row(i, **{**good, "recognizable": 0.0, **low_is}) for i in (150, 300)]),
        as_run(3, [row(150, **good), row(300, **{**good, "recognizable": 0.1})]),
    ]  # fmt: skip
    summary = tj.mutant_summary(runs, "dcgan")
    assert summary["seeds"] == 4 and summary["passing"] == 1 and summary["most"] == 5 and summary["misses"] == []
    assert summary["met"] == {"min_recognizable": 1, "min_coverage": 4, "max_class_distance": 4,
                              "min_inception_score": 3, "max_fid": 4}  # fmt: skip
    # Clopper-Pearson, 1 of 4: the p with P(at most 1 of 4 | p) = 5%, solved here by bisection
    low, high = 0.0, 1.0
    for _ in range(60):
        p = (low + high) / 2
        low, high = (p, high) if (1 - p) ** 4 + 4 * p * (1 - p) ** 3 > 0.05 else (low, p)
    assert summary["upper"] == pytest.approx(low, abs=1e-9)
    without = tj.mutant_summary(runs[:3], "dcgan")  # seed 3 gone: at best 4 bounds, recognizable missed
    assert without["passing"] == 0 and without["most"] == 4 and without["misses"] == ["min_recognizable"]


def test_twenty_failing_seeds_bound_the_passing_share_at_13_9_percent():
    runs = [as_run(seed, [row(1200)], gan="vanilla") for seed in range(20)]
    summary = tj.mutant_summary(runs, "vanilla")
    assert summary["passing"] == 0 and summary["upper"] == pytest.approx(1 - 0.05 ** (1 / 20))  # 13.9%
    assert summary["most"] == 0 and summary["misses"] == list(THRESHOLDS["vanilla"])  # row(): fails every bound
    assert set(summary["met"].values()) == {0}


def test_the_command_trains_what_it_lacks_keeps_the_other_recorded_runs_and_reports(tmp_path, monkeypatch):
    """main(), without training: a run made of another gan.py (or training code, data, checkpoints) is not reused
    from the cache, the recorded runs it did not make stay in DATA, and --report-only writes the report from DATA
    alone."""
    data, report = tmp_path / "trajectories.json", tmp_path / "trajectories.md"
    monkeypatch.setattr(tj, "DATA", data)
    monkeypatch.setattr(tj, "REPORT", report)
    monkeypatch.setattr(tj, "training_batches", lambda **kwargs: "batches")
    monkeypatch.setattr(tj, "corpus_mutants", lambda: {"m": ("# version 1", {"vanilla": "ruins"})})
    trained = []

    def trajectory(gan_py, gan, seed, loader):
        trained.append((Path(gan_py).read_text(), gan, seed))
        return [row(i) for i in [*tj.checkpoints(gan)[0], tj.checkpoints(gan)[1]]]

    monkeypatch.setattr(tj, "trajectory", trajectory)
    kept = {"kind": "reference", "name": "reference", "gan": "dcgan", "seed": 7, "mnist_root": "/elsewhere",
            "rows": [[i, 0.5, 10, 0.1, 5.0, 50.0] for i in (150, 180, 210, 240, 270, 300)]}  # fmt: skip
    data.write_text(json.dumps({"columns": list(tj.COLUMNS), "runs": [kept]}))
    argv = ["--mutants", "--seeds", "0", "1", "--cache", str(tmp_path / "cache")]
    assert tj.main(argv) == 0 and trained == [("# version 1", "vanilla", 0), ("# version 1", "vanilla", 1)]
    assert tj.main(argv) == 0 and len(trained) == 2  # cached: not trained again
    monkeypatch.setattr(tj, "corpus_mutants", lambda: {"m": ("# version 2", {"vanilla": "ruins"})})
    assert tj.main(argv) == 0 and trained[2:] == [("# version 2", "vanilla", 0), ("# version 2", "vanilla", 1)]
    # The code that trains every gan.py (nndl2's loop, the budget...) is part of what a run is made of; its comments
    # and docstrings are not.
    loop = tmp_path / "training.py"
    loop.write_text("def run(gan):\n    return gan\n")
    monkeypatch.setattr(tj, "TRAINED_BY", (loop,))
    assert tj.main(argv) == 0 and len(trained) == 6
    loop.write_text('def run(gan):\n    """Trains it."""\n    return gan  # as before\n')
    assert tj.main(argv) == 0 and len(trained) == 6
    loop.write_text("def run(gan):\n    return gan * 2\n")
    assert tj.main(argv) == 0 and trained[6:] == [("# version 2", "vanilla", 0), ("# version 2", "vanilla", 1)]
    recorded = json.loads(data.read_text())
    assert [tj.run_key(run) for run in recorded["runs"]] == [
        ("mutant", "m", "vanilla", 0), ("mutant", "m", "vanilla", 1), ("reference", "reference", "dcgan", 7)
    ]  # fmt: skip
    assert recorded["runs"][2] == kept and report.read_text() == tj.report(recorded) + "\n"
    # Clopper-Pearson, 0 of 2: 1 - 0.05 ** 0.5
    assert "| m | vanilla | ruins it (`spoils`) | 2 | 0 | 77.6% | 0 of 5 (" in report.read_text()
    report.write_text("stale")
    (tmp_path / "cache" / "stray.json").write_text("{}")  # --report-only reads no cache
    assert tj.main(["--report-only", "--cache", str(tmp_path / "cache")]) == 0
    assert report.read_text() == tj.report(recorded) + "\n" and json.loads(data.read_text()) == recorded


def test_the_report_is_rendered_from_the_recorded_runs_and_the_thresholds_in_force():
    """grading/ta/trajectories.md is generated from trajectories.json: the thresholds and checkpoints it states are
    the code's, and it is what the recorded runs give under them."""
    text = tj.REPORT.read_text()
    data = json.loads(tj.DATA.read_text())
    assert text == tj.report(data) + "\n" and data["columns"] == list(tj.COLUMNS)
    assert f"Thresholds: `{json.dumps(THRESHOLDS)}`" in text
    for gan in ("vanilla", "lsgan", "dcgan"):
        at, total = tj.checkpoints(gan)
        assert f"{gan} {total:,} iterations, checkpoints at {', '.join(map(str, at))}" in text


def test_the_reference_stops_are_recorded_for_every_gan():
    """README cites where the reference stops (trajectories.md): the data has its runs, for every GAN."""
    data = json.loads(tj.DATA.read_text())
    for gan in ("vanilla", "lsgan", "dcgan"):
        seeds = {run["seed"] for run in data["runs"] if run["kind"] == "reference" and run["gan"] == gan}
        assert len(seeds) >= 5, (gan, seeds)


def test_every_training_breaking_mutant_fails_its_gan_on_every_recorded_seed():
    """The corpus's claims (tests/corpus/index.py) against the thresholds in force: each mutant's GAN that its bug ruins
    (`spoils`) or degrades (`watch`) has at least 20 recorded seeds, and no ruined one meets the thresholds on any."""
    data = json.loads(tj.DATA.read_text())
    for name, (_, claims) in tj.corpus_mutants().items():
        for gan, claim in claims.items():
            runs = [run for run in data["runs"] if run["kind"] == "mutant" and (run["name"], run["gan"]) == (name, gan)]
            assert len({run["seed"] for run in runs}) >= 20, (name, gan)
            assert claim == "open" or tj.mutant_summary(runs, gan)["passing"] == 0, (name, gan)
