"""grading/ta/seed_distributions.py: the metrics' distributions over training seeds per style (a TA tool).

The margins are checked against numbers worked out by hand, the fingerprint against a file that trains
like the reference and one that does not, and the command end to end at the smoke budget (two seeds of the
vanilla GAN, a second run served from the cache)."""

import json
import math
import re

import numpy as np
import pytest

from grading.kit import ROOT, SOLUTION_GAN, import_file
from grading.ta import seed_distributions as sd
from nndl2 import quality
from nndl2.agent.training import GANS, train_gan
from nndl2.data import MNISTBatches, load_mnist


def test_margins_are_counted_in_standard_deviations_on_the_passing_side():
    mean, sd_, worst, margin = sd.margin_row([0.3, 0.4, 0.5], "min_recognizable", 0.25)
    assert (round(mean, 9), round(sd_, 9), worst, round(margin, 9)) == (0.4, 0.1, 0.3, 1.5)
    mean, sd_, worst, margin = sd.margin_row([100, 110, 120], "max_fid", 140)
    assert (mean, sd_, worst, margin) == (110, 10, 120, 3.0)
    assert sd.margin_row([120, 130, 140], "max_fid", 125)[3] == pytest.approx(-0.5)  # the mean fails
    assert sd.margin_row([10, 10], "min_coverage", 8)[3] == math.inf  # every seed the same, passing
    assert sd.margin_row([7, 7], "min_coverage", 8)[3] == -math.inf
    assert sd.margin_row([8, 8], "min_coverage", 8)[3] == 0  # at the limit: no margin at all


def passing(gan, scale):
    """Metrics that meet THRESHOLDS[gan], each bound cleared by `scale` (1 = exactly at the limits)."""
    metrics = {}
    for bound, limit in quality.THRESHOLDS[gan].items():
        key = bound.split("_", 1)[1]
        if key == "coverage":  # a count of digits: all ten, or exactly the limit, or one short of it
            metrics[key] = 10 if scale > 1 else int(limit) if scale == 1 else int(limit) - 1
        else:
            metrics[key] = limit * scale if bound.startswith("min") else limit / scale
    return metrics


STANDARD = np.linspace(-1.5, 1.5, 20) / np.linspace(-1.5, 1.5, 20).std(ddof=1)  # 20 values: mean 0, sd 1


def spread(gan, margin):
    """20 seeds' metrics: every bound cleared far and alike (an infinite margin) but the minimum share of
    recognizable digits, whose values lie `margin` sds above its limit on average, one sd apart."""
    limit = quality.THRESHOLDS[gan]["min_recognizable"]
    return {seed: {**passing(gan, 3.0), "recognizable": limit + 0.01 * (margin + z)} for seed, z in enumerate(STANDARD)}


def test_the_report_says_yes_only_where_every_seed_passes_by_the_tolerance_factor():
    assert sd.tolerance_factor(20) == pytest.approx(4.318, abs=0.001)  # tables of one-sided tolerance factors
    assert sd.quantile() == pytest.approx(3.090, abs=0.001)  # the normal quantile of 99.9%
    groups = {"vanilla": {"a": ["reference", "style_x"], "b": ["style_y"], "c": ["style_z"]}}
    groups.update({"lsgan": {"d": ["reference"]}, "dcgan": {"e": ["reference"], "f": ["style_w"]}})
    close = {0: passing("dcgan", 1.2), 1: passing("dcgan", 1.3), 2: passing("dcgan", 0.9)}  # seed 2 fails
    metrics = {"vanilla": {"a": spread("vanilla", 5.0), "b": spread("vanilla", 4.0), "c": spread("vanilla", 2.0)}}
    metrics["dcgan"] = {"e": spread("dcgan", 6.5), "f": close}
    data = {"budget": "autograde", "iterations": {"vanilla": 1, "lsgan": 1, "dcgan": 1}, "seeds": 20}
    text = sd.report({**data, "mnist_root": "x", "groups": groups, "metrics": metrics})
    rows = [line for line in text.splitlines() if line.startswith(("| vanilla |", "| lsgan |", "| dcgan |"))]
    assert rows == [
        "| vanilla | reference, style_x | 20 | 20 | 5.0 (min_recognizable) | 0.000% | yes |",
        "| vanilla | style_y | 20 | 20 | 4.0 (min_recognizable) | 0.003% | not shown |",  # between 3.09 and 4.32
        "| vanilla | style_z | 20 | 20 | 2.0 (min_recognizable) | 2.275% | no |",  # the normal tail beyond 2 sd
        "| lsgan | reference | 0 | - | - | - | not measured |",
        "| dcgan | reference | 20 | 20 | 6.5 (min_recognizable) | 0.000% | yes |",
        rows[-1],
    ]
    assert rows[-1].startswith("| dcgan | style_w | 3 | 2 | ") and rows[-1].endswith("| no |")
    assert "2 of 3 seeds pass every bound." in text and "20 of 20 seeds pass every bound." in text


def test_the_estimated_share_failing_sums_each_bounds_normal_tail():
    assert sd.estimated_failing([3.0902323, math.inf]) == pytest.approx(0.001, rel=1e-4)  # 99.9% on one bound
    assert sd.estimated_failing([2.0, 2.0]) == pytest.approx(2 * 0.0227501, rel=1e-4)  # tables: 2.275% beyond 2 sd
    assert sd.estimated_failing([0.0]) == 0.5 and sd.estimated_failing([-math.inf]) == 1.0


@pytest.fixture
def batches(mnist_real, monkeypatch):
    monkeypatch.setenv("MNIST_ROOT", str(mnist_real))
    monkeypatch.setattr(sd, "FINGERPRINT", {"iterations": {"vanilla": 2, "lsgan": 2, "dcgan": 1}, "seeds": (0,)})
    return MNISTBatches(load_mnist(download=False), 128, 50000)


def test_a_fingerprint_tells_a_file_that_trains_like_the_reference_from_one_that_does_not(tmp_path, batches):
    source = SOLUTION_GAN.read_text()
    (tmp_path / "same.py.txt").write_text("# the reference, reformatted\n" + source.replace("\n\n\n", "\n\n"))
    assert source.count("lr=1e-3") == 1
    (tmp_path / "other.py.txt").write_text(source.replace("lr=1e-3", "lr=2e-3"))
    reference = import_file(SOLUTION_GAN, "fingerprint_reference")
    same = import_file(tmp_path / "same.py.txt", "fingerprint_same")
    other = import_file(tmp_path / "other.py.txt", "fingerprint_other")
    assert sd.fingerprint(same, "vanilla", batches) == sd.fingerprint(reference, "vanilla", batches)
    assert sd.fingerprint(other, "vanilla", batches) != sd.fingerprint(reference, "vanilla", batches)


def test_a_module_that_declares_its_layers_in_another_order_shares_the_fingerprint_of_one_that_trains_alike(batches):
    """module_grouped_declaration's DCGAN registers its parameters in another order than lsgan_shape1_bcewithlogits'
    and trains bit for bit alike (their samples were equal at every seed measured): one fingerprint."""
    styles = ROOT / "tests" / "corpus" / "styles"
    grouped = import_file(styles / "module_grouped_declaration.py.txt", "fingerprint_grouped")
    shape1 = import_file(styles / "lsgan_shape1_bcewithlogits.py.txt", "fingerprint_shape1")
    order = {}
    for name, module in (("grouped", grouped), ("shape1", shape1)):
        _, G, _, _ = train_gan("dcgan", module, batches, {"num_epochs": 1, "max_iters": 1}, 0, show_every=10**9)
        order[name] = [tuple(p.shape) for p in G.parameters()]
    assert order["grouped"] != order["shape1"] and sorted(order["grouped"]) == sorted(order["shape1"])
    assert sd.fingerprint(grouped, "dcgan", batches) == sd.fingerprint(shape1, "dcgan", batches)


def test_the_command_trains_each_distinct_training_once_per_seed_then_reports_from_its_cache(
    tmp_path, batches, monkeypatch, capsys
):
    (tmp_path / "alike.py.txt").write_text("# the reference, as another file\n" + SOLUTION_GAN.read_text())
    cache, report = tmp_path / "cache", tmp_path / "report.md"
    argv = [str(tmp_path / "alike.py.txt"), "--budget", "smoke", "--seeds", "2", "--gans", "vanilla"]
    argv += ["--cache", str(cache), "--report", str(report)]
    assert sd.main(argv) == 0
    trained = re.findall(r"^vanilla (\S+) seed (\d):", capsys.readouterr().out, re.M)
    assert trained == [("reference", "0"), ("reference", "1")]  # alike trains like the reference: not again
    cached = sorted(p.name for p in cache.glob("*.npy"))
    assert len(cached) == 2 and all(
        re.fullmatch(rf"vanilla-smoke-[0-9a-f]{{16}}-[0-9a-f]{{12}}-seed{i}\.npy", n) for i, n in enumerate(cached)
    )
    first = report.read_text()
    assert "| vanilla | reference, alike | 2 | 0 | " in first  # 3 iterations: nothing passes yet
    assert "| lsgan | reference, alike | 0 | - | - | - | not measured |" in first

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(sd, "train_gan", no_training)
    assert sd.main([*argv, "--report-only"]) == 0
    assert report.read_text() == first
    with pytest.raises(SystemExit, match="no fingerprint of its vanilla GAN yet"):  # bfloat16: its own trainings
        sd.main([*argv, "--report-only", "--precision", "bfloat16"])
    (tmp_path / "reference.py").write_text(SOLUTION_GAN.read_text())
    for wrong, said in (
        ([str(tmp_path / "missing.py")], "missing.py: no such file"),
        ([str(tmp_path / "reference.py")], "its name 'reference' is taken (the reference solution)"),
        (["--seeds", "1"], "need --seeds of at least 2"),
        (["--every", "0"], "--every of at least 1"),
        (["--render", str(tmp_path / "alike.py.txt")], "--render writes"),
    ):
        with pytest.raises(SystemExit):
            sd.main([*wrong, "--report", str(report)])
        assert said in capsys.readouterr().err
    assert np.load(next(cache.glob("*.npy"))).shape == (1000, 784)
    report.write_text("stale")
    assert sd.main(["--render", "--report", str(report)]) == 0 and report.read_text() == first
    # Measured where the vanilla GAN trains otherwise (another CPU kind): refused before anything trains, not dropped
    data = report.with_suffix(".json")
    recorded = data.read_text()
    (key,) = json.loads(recorded)["groups"]["vanilla"]
    data.write_text(recorded.replace(key, "0" * 16))
    elsewhere = data.read_text()
    with pytest.raises(SystemExit, match=f"vanilla {'0' * 16} of reference, alike \\(they train otherwise here\\)"):
        sd.main(argv)
    assert data.read_text() == elsewhere and report.read_text() == first
    other = json.loads(recorded)  # a file that trained otherwise, recorded then, not given now
    other["groups"]["vanilla"]["1" * 16] = ["other"]
    other["metrics"]["vanilla"]["1" * 16] = other["metrics"]["vanilla"][key]
    data.write_text(json.dumps(other))
    with pytest.raises(SystemExit, match=f"vanilla {'1' * 16} of other \\(not given here: other\\)"):
        sd.main(argv)
    data.write_text(recorded)
    with pytest.raises(SystemExit, match="another budget, MNIST folder or precision .smoke, .*this run: full"):
        sd.main([*argv, "--budget", "full"])  # the smoke budget's seeds would all be dropped
    assert data.read_text() == recorded and report.read_text() == first


def test_a_change_of_the_training_code_trains_again_and_one_of_its_comments_does_not(tmp_path, batches, monkeypatch):
    """The cache (fingerprints and samples) is keyed by the code that trains every gan.py too: a cached run of
    another training loop is never reported as this one's."""
    loop = tmp_path / "training.py"
    monkeypatch.setattr(sd, "TRAINED_BY", (loop,))
    trained = []  # (GAN, seed) of each run: the fingerprints' (every GAN) and the measured seeds' (vanilla)
    monkeypatch.setattr(
        sd, "train_gan", lambda *args, **kwargs: trained.append(args[::4]) or train_gan(*args, **kwargs)
    )
    argv = ["--budget", "smoke", "--seeds", "2", "--gans", "vanilla", "--cache", str(tmp_path / "cache")]
    argv += ["--report", str(tmp_path / "report.md")]
    for code in ("STEPS = 3\n", '"""A docstring."""\nSTEPS = 3  # as before\n', "STEPS = 4\n"):
        loop.write_text(code)
        (tmp_path / "report.json").unlink(missing_ok=True)  # each code's report afresh (not refused as another's)
        assert sd.main(argv) == 0
    runs = [*[(gan, seed) for gan in GANS for seed in sd.FINGERPRINT["seeds"]], ("vanilla", 0), ("vanilla", 1)]
    assert trained == runs * 2  # the comment trained nothing again, the change everything


def test_a_bfloat16_run_trains_under_autocast_and_keeps_its_own_samples_and_report(tmp_path, batches, bfloat16_asked):
    trained_with = bfloat16_asked(sd, "train_gan")
    cache, report = tmp_path / "cache", tmp_path / "report.md"
    argv = ["--budget", "smoke", "--seeds", "2", "--gans", "vanilla", "--cache", str(cache), "--report", str(report)]
    assert sd.main([*argv, "--precision", "bfloat16"]) == 0
    assert trained_with and set(trained_with) == {True}  # the fingerprints and the two seeds alike
    assert sorted(p.name.split("-")[:3] for p in cache.glob("*.npy")) == [["vanilla", "smoke", "bfloat16"]] * 2
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["precision"] == "bfloat16" and report.read_text() == sd.report(data)
    assert "`python -m grading.ta.seed_distributions --precision bfloat16` from `report.json`" in report.read_text()
    assert "under bfloat16 autocast, one thread" in report.read_text()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_the_kits_report_is_rendered_from_its_measurements(precision):
    """grading/ta/seed_distributions.md (float32) and seed_distributions_bfloat16.md are written from their .json and
    the thresholds in force."""
    path = sd.REPORT_MD if precision == "float32" else sd.REPORT_BF16_MD
    data = json.loads(path.with_suffix(".json").read_text())
    assert path.read_text() == sd.report(data) and data.get("precision", "float32") == precision
    assert data["budget"] == "autograde" and data["seeds"] >= 20
    for gan, groups in data["metrics"].items():  # every distinct training, 20 seeds: every seed passes
        assert set(groups) == set(data["groups"][gan])
        for runs in groups.values():
            assert len(runs) >= 20 and all(quality.passes(metrics, gan)[0] for metrics in runs.values()), (gan, runs)
