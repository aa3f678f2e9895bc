"""The optional "Going further" part: helpers (nndl2/experiments.py), budget, notebook cells, points switch.

Helpers are checked on synthetic digits against values computed here; the notebook's new cells are
run at the smoke budget with the reference solution; the points switch is checked through
nbgrader's own gradebook.
"""

import math

import matplotlib

matplotlib.use("Agg")
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from grading.course import build_course, generate_assignment, going_further  # noqa: E402
from grading.kit import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK  # noqa: E402
from grading.ta.run_notebook import cell_problems, grade_id  # noqa: E402
from nndl2 import budget, experiments, quality  # noqa: E402
from nndl2.data import MNISTBatches, load_mnist  # noqa: E402
from nndl2.training import HISTORY_KEYS, run_a_gan  # noqa: E402

BATCH = 128


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def loader(mnist_synthetic):
    return MNISTBatches(load_mnist(mnist_synthetic, download=False), BATCH, 50000)


def softplus(x):
    return np.logaddexp(0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------------
# The two optional gan.py functions (the reference's), their visible checks, and Experiment 1's setups
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("real_label", [0.9, 0.75])
def test_smoothed_loss_changes_the_real_label_only_and_by_its_amount(solution, real_label):
    rng = np.random.default_rng(4)
    real, fake = rng.normal(1, 3, (64, 1)), rng.normal(-1, 3, (64, 1))
    t_real = torch.tensor(real, requires_grad=True)
    t_fake = torch.tensor(fake, requires_grad=True)
    loss = solution.smoothed_discriminator_loss(t_real, t_fake, real_label=real_label)
    # BCE with label y for the real logits, label 0 for the fakes: y * softplus(-s) + (1 - y) * softplus(s).
    expected = np.mean(real_label * softplus(-real) + (1 - real_label) * softplus(real)) + np.mean(softplus(fake))
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(t_real.grad.numpy(), (sigmoid(real) - real_label) / 64, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(t_fake.grad.numpy(), sigmoid(fake) / 64, rtol=1e-10, atol=1e-15)


def test_label_one_is_the_plain_loss(solution):
    real, fake = torch.randn(8, 1, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    plain = solution.discriminator_loss(real, fake)
    assert float(solution.smoothed_discriminator_loss(real, fake, real_label=1.0)) == pytest.approx(float(plain))


def test_init_weights_normal_draws_conv_and_linear_weights_from_n_0_002_and_leaves_the_rest(solution):
    torch.manual_seed(0)
    models = [solution.build_dc_classifier(BATCH), solution.build_dc_generator(), solution.discriminator()]
    layers_seen = set()
    for model in models:
        before = {name: value.clone() for name, value in model.state_dict().items()}
        model.apply(solution.init_weights_normal)
        after = model.state_dict()
        weights = {
            f"{name}.weight"
            for name, layer in model.named_modules()
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
        }
        layers_seen |= {type(layer).__name__ for layer in model.modules()}
        for name, value in after.items():
            if name not in weights:  # biases, BatchNorm weights, biases and running statistics
                assert torch.equal(value, before[name]), f"{name} changed"
                continue
            w = value.double().flatten().numpy()
            n = len(w)
            assert abs(w.mean()) < 5 * 0.02 / math.sqrt(n), name
            assert abs(w.std() / 0.02 - 1) < 5 / math.sqrt(2 * n), name
            if n >= 100_000:  # normal, not just any distribution with that spread: 68.3% within one std
                assert abs(np.mean(np.abs(w) < 0.02) - 0.6827) < 0.005, name
    assert {"Conv2d", "ConvTranspose2d", "Linear", "BatchNorm1d", "BatchNorm2d"} <= layers_seen


def stub(*args, **kwargs):
    raise NotImplementedError("init_weights_normal: write your code here (see the docstring)")


def normal_everything(m):  # a common mistake: BatchNorm's weight drawn too
    if getattr(m, "weight", None) is not None:
        nn.init.normal_(m.weight, 0.0, 0.02)


def too_wide(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.2)


def with_bias(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.normal_(m.bias, 0.0, 0.02)


def test_check_init_weights_normal_passes_the_reference_and_names_each_mistake(solution, capsys):
    assert experiments.check_init_weights_normal(solution.init_weights_normal) is True
    assert capsys.readouterr().out.endswith("the rest untouched. PASS\n")
    for wrong, said in [(normal_everything, "BatchNorm1d changed"), (too_wide, "std 0.2"), (with_bias, "bias changed")]:
        assert experiments.check_init_weights_normal(wrong) is False
        out = capsys.readouterr().out
        assert out.startswith("FAIL: init_weights_normal: ") and said in out, out
    assert experiments.check_init_weights_normal(stub) is False
    said = "init_weights_normal is not written yet (optional): Experiment 1 runs without it.\n"
    assert capsys.readouterr().out == said
    assert experiments.check_init_weights_normal(lambda m: 1 / 0) is False  # a crash is reported, not raised
    assert capsys.readouterr().out.startswith("FAIL: init_weights_normal raised ZeroDivisionError")


def test_check_smoothed_loss_passes_the_reference_and_names_each_mistake(solution, capsys):
    check = experiments.check_smoothed_discriminator_loss
    assert check(solution.smoothed_discriminator_loss, solution.discriminator_loss) is True
    assert capsys.readouterr().out.endswith("give the expected losses. PASS\n")
    bce = solution.bce_loss

    def both_sides(real, fake, real_label=0.9):  # smoothing the fake label too
        return bce(real, torch.full_like(real, real_label)) + bce(fake, torch.full_like(fake, 1 - real_label))

    def ignores_label(real, fake, real_label=0.9):
        return solution.discriminator_loss(real, fake)

    for wrong in (both_sides, ignores_label):
        assert check(wrong, solution.discriminator_loss) is False
        assert capsys.readouterr().out.startswith("FAIL: smoothed_discriminator_loss: real_label=0.9: ")
    assert check(stub, solution.discriminator_loss) is False
    assert "not written yet (optional)" in capsys.readouterr().out


def test_experiment_1_leaves_out_a_trick_that_is_not_written_and_says_so(solution, capsys):
    baseline = experiments.GANSetup(None, None, solution.discriminator_loss, None, None)
    names = list(experiments.trick_setups(baseline, stub, stub))
    assert names == ["baseline (Xavier init, labels 1/0)"]
    out = capsys.readouterr().out
    assert "Skipped: label smoothing (smoothed_discriminator_loss in gan.py is not written yet; optional)." in out
    assert "Skipped: N(0, 0.02) init (init_weights_normal in gan.py is not written yet; optional)." in out
    setups = experiments.trick_setups(baseline, solution.init_weights_normal, solution.smoothed_discriminator_loss)
    assert list(setups) == ["baseline (Xavier init, labels 1/0)", "label smoothing (real label 0.9)",
                            "N(0, 0.02) init", "N(0, 0.02) init + label smoothing"]  # fmt: skip
    real, fake = torch.randn(8, 1), torch.randn(8, 1)
    smoothed = setups["label smoothing (real label 0.9)"].discriminator_loss(real, fake)
    assert torch.equal(smoothed, solution.smoothed_discriminator_loss(real, fake, real_label=0.9))
    assert setups["N(0, 0.02) init"].init is solution.init_weights_normal
    state = torch.random.get_rng_state()
    experiments.trick_setups(baseline, solution.init_weights_normal, solution.smoothed_discriminator_loss)
    assert torch.equal(torch.random.get_rng_state(), state)  # asking draws nothing from the training's generator


def test_the_budget_is_described_in_words_not_dictionaries(capsys):
    experiments.describe_budget(experiments.EXPERIMENTS["full"])
    out = capsys.readouterr().out
    assert "{" not in out and "Experiment 1 (DCGANs): 300 iterations per setup" in out
    assert "Experiment 2 (vanilla GANs): 1,000 iterations per setup" in out


# ---------------------------------------------------------------------------
# Recorders and the comparison runner
# ---------------------------------------------------------------------------


def test_discriminator_accuracy_counts_correct_real_and_fake_verdicts(solution):
    real = torch.tensor([[2.0], [-1.0], [0.3], [5.0]])  # 3 of 4 above 0
    fake = torch.tensor([[-2.0], [1.0], [0.7], [-0.1]])  # 2 of 4 below 0
    recorder = experiments.DiscriminatorAccuracy(solution.discriminator_loss)
    assert torch.equal(recorder(real, fake), solution.discriminator_loss(real, fake))
    recorder(fake, real)  # everything the wrong way round: 1 real above 0, 1 fake below 0
    assert recorder.values == pytest.approx([(3 / 4 + 2 / 4) / 2, (2 / 4 + 1 / 4) / 2])
    scores = experiments.DiscriminatorAccuracy(solution.ls_discriminator_loss, threshold=0.5)
    scores(torch.tensor([[0.9], [0.4]]), torch.tensor([[0.1], [0.6]]))
    assert scores.values == pytest.approx([0.5])


def test_fid_tracker_measures_the_generator_at_every_show(solution, loader):
    torch.manual_seed(0)
    D, G = solution.discriminator(), solution.generator()
    tracker = experiments.FIDTracker(n=100)
    run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), solution.discriminator_loss,
              solution.generator_loss, loader, show_every=3, max_iters=7, on_show=tracker)  # fmt: skip
    assert tracker.iterations == [0, 3, 6]
    assert len(tracker.fid) == len(tracker.recognizable) == 3 and all(math.isfinite(f) for f in tracker.fid)
    final = quality.evaluate(quality.sample_images(G, n=100, seed=0))  # iteration 6 is the last one
    assert tracker.fid[-1] == pytest.approx(final["fid"], rel=1e-6)
    assert tracker.fid[0] != pytest.approx(tracker.fid[-1])
    with pytest.raises(ValueError, match="n >= 100"):
        experiments.FIDTracker(n=10)


def setups(solution):
    vanilla = experiments.GANSetup(
        solution.discriminator, solution.generator, solution.discriminator_loss, solution.generator_loss,
        solution.get_optimizer,
    )  # fmt: skip
    sgd = vanilla.but(optimizer=lambda model: torch.optim.SGD(model.parameters(), lr=0.01))
    return {"adam": vanilla, "sgd": sgd, "adam again": vanilla}


def test_compare_gans_returns_one_run_per_setup_with_histories_of_the_right_length(solution, loader, capsys):
    runs = experiments.compare_gans(
        setups(solution), loader, max_iters=5, show_every=2, fid_samples=100, final_samples=120
    )
    assert list(runs) == ["adam", "sgd", "adam again"]
    for name, run in runs.items():
        assert run.name == name
        assert sorted(run.history) == sorted([*HISTORY_KEYS, "d_accuracy"])
        assert all(len(values) == 5 for values in run.history.values()), name
        assert all(0 <= a <= 1 for a in run.history["d_accuracy"])
        assert run.fid_iterations == [0, 2, 4] and len(run.fid) == len(run.recognizable) == len(run.grids) == 3
        assert run.samples.shape == (120, 784) and run.metrics["n"] == 120
        assert run.seconds > 0 and isinstance(run.G, nn.Module)
    # Same seed, same batches: a setup run twice trains the same; another optimizer does not.
    assert runs["adam"].history == runs["adam again"].history
    assert runs["sgd"].history["g_loss"][1:] != runs["adam"].history["g_loss"][1:]
    assert runs["sgd"].history["d_loss"][0] == runs["adam"].history["d_loss"][0]  # the same start
    assert "adam again: " in capsys.readouterr().out


def test_compare_gans_passes_over_a_small_loader_as_often_as_needed(solution, mnist_synthetic):
    small = MNISTBatches(load_mnist(mnist_synthetic, download=False), BATCH, 300)  # 2 full batches per pass
    runs = experiments.compare_gans(
        {"adam": setups(solution)["adam"]}, small, max_iters=5, show_every=10, fid_samples=100, final_samples=100
    )
    run = runs["adam"]
    assert len(run.history["d_loss"]) == 5
    assert run.fid_iterations == [0, 4] and len(run.grids) == 1  # the FID curve ends at the trained generator
    assert run.fid[-1] == pytest.approx(run.metrics["fid"], rel=1e-9)  # same samples: same seed, same G


def test_compare_gans_trains_a_dcgan_setup_as_the_notebook_does(solution, loader):
    """The notebook's DCGAN cell: seed, D, init(D), G, init(G), get_optimizer, run_a_gan."""
    torch.manual_seed(budget.SEED)
    D = solution.build_dc_classifier(BATCH)
    D.apply(solution.initialize_weights)
    G = solution.build_dc_generator()
    G.apply(solution.initialize_weights)
    history = {}
    run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), solution.discriminator_loss,
              solution.generator_loss, loader, max_iters=2, history=history)  # fmt: skip
    dcgan = experiments.GANSetup(
        lambda: solution.build_dc_classifier(BATCH), solution.build_dc_generator, solution.discriminator_loss,
        solution.generator_loss, solution.get_optimizer, init=solution.initialize_weights,
    )  # fmt: skip
    runs = experiments.compare_gans({"dcgan": dcgan}, loader, max_iters=2, show_every=5, fid_samples=100,
                                    final_samples=100)  # fmt: skip
    assert {key: runs["dcgan"].history[key] for key in HISTORY_KEYS} == history
    for p, q in zip(runs["dcgan"].G.parameters(), G.parameters(), strict=True):
        assert torch.equal(p, q)


# ---------------------------------------------------------------------------
# The noise space and the class histogram
# ---------------------------------------------------------------------------


def test_interpolate_keeps_both_ends_exactly_and_walks_a_straight_line():
    rng = torch.Generator().manual_seed(3)
    z0, z1 = 2 * torch.rand(96, generator=rng) - 1, 2 * torch.rand(96, generator=rng) - 1
    path = experiments.interpolate(z0, z1, 7)
    assert path.shape == (7, 96) and path.dtype == torch.float32
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    a, b = z0.double().numpy(), z1.double().numpy()
    for i in range(7):
        np.testing.assert_allclose(path[i].double().numpy(), a + i / 6 * (b - a), atol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        experiments.interpolate(z0, z1, 1)
    with pytest.raises(ValueError, match="same length"):
        experiments.interpolate(z0, z1[:10], 5)


def test_generate_gives_the_generators_images_and_leaves_it_untouched(solution):
    torch.manual_seed(0)
    G = solution.generator()
    z = 2 * torch.rand(130, 96) - 1
    images = experiments.generate(G, z, batch_size=64)  # three batches, the last one padded
    with torch.no_grad():
        np.testing.assert_allclose(images, G(z).numpy(), atol=1e-6)
    G_dc = solution.build_dc_generator()
    state = {name: value.clone() for name, value in G_dc.state_dict().items()}
    out = experiments.generate(G_dc, z[:10])
    assert out.shape == (10, 784) and np.all(np.abs(out) <= 1)
    assert all(torch.equal(value, state[name]) for name, value in G_dc.state_dict().items())  # BatchNorm statistics


def test_predict_digits_reads_the_classifier():
    logits = torch.tensor([[0.0] * 9 + [5.0], [3.0] + [0.0] * 9, [1.0] * 10])
    digits, confidence = experiments.predict_digits(torch.zeros(3, 784), classifier=lambda images: logits)
    assert digits.tolist() == [9, 0, 0]
    expected = np.exp(5) / (np.exp(5) + 9), np.exp(3) / (np.exp(3) + 9), 0.1
    np.testing.assert_allclose(confidence, expected, rtol=1e-6)


def test_class_histograms_count_every_sample_by_the_classifiers_digit(solution):
    torch.manual_seed(1)
    G = solution.generator()
    histograms = experiments.class_histograms({"G": G}, n=150)
    counts = histograms["G"]["class_counts"]
    with torch.no_grad():
        logits = quality.load_classifier()(torch.from_numpy(quality.sample_images(G, n=150)).reshape(-1, 1, 28, 28))
    assert counts == np.bincount(logits.argmax(1).numpy(), minlength=10).tolist()
    assert sum(counts) == 150


# ---------------------------------------------------------------------------
# Budget and plots
# ---------------------------------------------------------------------------


def test_every_budget_has_experiments_and_autograding_has_none():
    assert set(experiments.EXPERIMENTS) == set(budget.BUDGETS)
    assert experiments.EXPERIMENTS["autograde"] is None
    assert set(experiments.EXPERIMENTS["full"]) == set(experiments.EXPERIMENTS["smoke"]) == {
        "smoothing", "optimizers", "fid", "latent",
    }  # fmt: skip
    for name in ("smoothing", "optimizers", "fid"):
        smoke, full = experiments.EXPERIMENTS["smoke"][name], experiments.EXPERIMENTS["full"][name]
        assert smoke["max_iters"] <= 3 < full["max_iters"]


def test_skipped_at_grading_says_so_when_the_budget_has_no_experiments(monkeypatch, capsys):
    monkeypatch.setattr(experiments, "GOING_FURTHER", None)
    monkeypatch.setattr(budget, "BUDGET", "autograde")
    assert experiments.skipped_at_grading() is True
    assert "skipped under the 'autograde' budget" in capsys.readouterr().out
    monkeypatch.setattr(experiments, "GOING_FURTHER", experiments.EXPERIMENTS["smoke"])
    assert experiments.skipped_at_grading() is False
    assert capsys.readouterr().out == ""


def test_autograding_skips_the_experiments_whatever_the_budget(monkeypatch, capsys):
    """nbgrader's autograde (NBGRADER_EXECUTION=autograde) trains none of them even under a budget that has
    experiments (the tests' smoke budget): the grader's notebook run does the same work at every budget."""
    monkeypatch.setattr(experiments, "GOING_FURTHER", experiments.EXPERIMENTS["smoke"])
    monkeypatch.setattr(budget, "BUDGET", "smoke")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert experiments.skipped_at_grading() is True
    assert "Going further is skipped at grading" in capsys.readouterr().out
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert experiments.skipped_at_grading() is False


def test_plots_draw_every_run(solution, loader):
    import matplotlib.pyplot as plt

    runs = experiments.compare_gans(setups(solution), loader, max_iters=4, show_every=2, fid_samples=100,
                                    final_samples=100)  # fmt: skip
    curves = experiments.plot_curves(runs)
    assert [len(ax.get_lines()) for ax in curves.axes] == [3, 3, 4]  # 3 runs (+ the 0.5 line)
    progress = experiments.plot_progress(runs)
    assert [len(ax.get_lines()) for ax in progress.axes] == [3, 7]  # FID per run; D(x), D(G(z)) per run, 0.5
    metrics = experiments.plot_metrics(runs)
    assert len(metrics.axes) == 4 and all(len(ax.patches) == 3 for ax in metrics.axes)
    assert len(experiments.show_samples(runs).axes) == 3
    assert len(experiments.plot_snapshots(runs["adam"]).axes) == 2
    strips = [experiments.generate(runs["adam"].G, experiments.interpolate(*torch.rand(2, 96), 5))]
    assert len(experiments.plot_interpolations(strips).axes) == 5
    histograms = experiments.plot_class_histograms({n: r.metrics for n, r in runs.items()}, real_counts=[1] * 10)
    assert len(histograms.axes) == 3
    assert all("class imbalance" in ax.get_title() and "digits covered" in ax.get_title() for ax in histograms.axes)
    plt.close("all")


@pytest.mark.parametrize("low", [2.0, 0.5, 1e-3, 1e-8])
def test_a_log_axis_keeps_few_labels_that_do_not_overlap_whatever_its_range(low):
    # A diverged run (Adam at lr 1e-2: D's loss falls to 1e-8 while the others stay near 1) once got
    # four labels per decade, 30 of them piled on each other.
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    ax.plot(np.linspace(0, 1000, 50), np.geomspace(5, low, 50))
    experiments._log_axis(ax)
    fig.canvas.draw()
    low_end, high_end = ax.get_ylim()
    labels = [t for t in ax.yaxis.get_majorticklabels() if t.get_text() and low_end <= t.get_position()[1] <= high_end]
    assert 3 <= len(labels) <= 10, [t.get_text() for t in labels]
    boxes = sorted((t.get_window_extent().y0, t.get_window_extent().y1) for t in labels)
    assert all(top <= next_bottom for (_, top), (next_bottom, _) in zip(boxes, boxes[1:], strict=False))
    assert not any(t.get_text() for t in ax.yaxis.get_minorticklabels())
    plt.close(fig)


# ---------------------------------------------------------------------------
# The notebook's cells
# ---------------------------------------------------------------------------


def new_cells(notebook):
    """The cells between Inline Question 6's justification and "Before you submit": the "Going further" part."""
    cells = notebook.cells
    first = next(i for i, cell in enumerate(cells) if grade_id(cell) == "q6_justification") + 1
    end = next(i for i, cell in enumerate(cells) if cell.source.startswith("## Before you submit"))
    return cells[first:end]


def uncommented(cell):
    """A "Your variant" cell as a student who removed the # of its example lines has it."""
    lines = cell.source.splitlines()
    start = lines.index("    pass") + 1
    return nbformat.v4.new_code_cell("\n".join(lines[:start] + [line.replace("# ", "", 1) for line in lines[start:]]))


def test_every_variant_example_runs_once_uncommented(solution, loader, monkeypatch, capsys):
    """The "Your variant" examples train and plot at the smoke budget, with the notebook's names."""
    import matplotlib.pyplot as plt

    notebook = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    cells = {grade_id(cell): cell for cell in new_cells(notebook) if grade_id(cell)}
    variants = [uncommented(c) for c in new_cells(notebook) if c.source.startswith("# Your variant (optional)")]
    monkeypatch.setattr(experiments, "GOING_FURTHER", experiments.EXPERIMENTS["smoke"])
    namespace = {name: getattr(solution, name) for name in dir(solution) if not name.startswith("_")}
    namespace.update(BUDGET="smoke", SEED=0, batch_size=BATCH, device="cpu", NOISE_DIM=96, loader_train=loader, plt=plt)
    namespace["G"] = solution.generator()
    setup = cells["going_further_setup"].source.replace("from gan import", "from gan_solution import")
    exec(compile(setup, "going_further_setup", "exec"), namespace)
    adam = cells["going_further_optimizers"].source.split("\n\n\nif not")[0]  # the cell's def adam(lr)
    exec(compile(adam, "adam", "exec"), namespace)
    for number, cell in enumerate(variants, 1):
        exec(compile(cell.source, f"variant {number}", "exec"), namespace)
        plt.close("all")
    out = capsys.readouterr().out
    for name in ("--- real label 0.8 ---", "--- Adam lr 2e-4 ---", "--- DCGAN, LSGAN losses ---"):
        assert name in out


PLOT_CELLS = {  # grade id: figures it draws
    "going_further_smoothing_plots": 3,
    "going_further_optimizers_plots": 2,
    "going_further_fid_plots": 2,
    "going_further_interpolation": 1,
    "going_further_histograms": 1,
}


def test_new_code_cells_are_locked_and_train_nothing_at_autograde(solution, monkeypatch, capsys):
    """Run the new code cells as the autograder would (budget "autograde"): every one must skip its work."""
    cells = [cell for cell in new_cells(nbformat.read(SOURCE_NOTEBOOK, as_version=4)) if cell.cell_type == "code"]
    variants = [cell for cell in cells if "nbgrader" not in cell.metadata]  # "Your variant": the student's own
    assert len(variants) == 4 and all(cell.source.startswith("# Your variant (optional)") for cell in variants)
    locked = [cell for cell in cells if cell not in variants]
    assert all(cell.metadata["nbgrader"]["locked"] and not cell.metadata["nbgrader"]["grade"] for cell in locked)
    cells = locked + [uncommented(cell) for cell in variants]  # as a student who wrote every variant
    assert set(PLOT_CELLS) <= {grade_id(cell) for cell in cells}

    def forbidden(*args, **kwargs):
        raise AssertionError("trained or sampled at autograde")

    monkeypatch.setattr(experiments, "GOING_FURTHER", None)
    monkeypatch.setattr(budget, "BUDGET", "autograde")
    for name in ("run_a_gan", "generate", "class_histograms"):
        monkeypatch.setattr(experiments, name, forbidden)
    monkeypatch.setattr(quality, "sample_images", forbidden)
    namespace = {name: getattr(solution, name) for name in dir(solution) if not name.startswith("_")}
    namespace.update(BUDGET="autograde", SEED=0, batch_size=BATCH, device="cpu", NOISE_DIM=96)
    for cell in cells:
        exec(compile(cell.source, grade_id(cell), "exec"), namespace)
    printed = capsys.readouterr().out
    guarded = [cell for cell in cells if "if not skipped_at_grading():" in cell.source]
    assert len(guarded) == len(cells)
    assert printed.count("Going further is skipped under the 'autograde' budget") == len(cells)


def test_reflections_are_plain_markdown_cells_by_default():
    assert going_further.GOING_FURTHER_POINTS is None  # the committed default: ungraded
    cells = new_cells(nbformat.read(NOTEBOOK, as_version=4))
    reflections = [cell for cell in cells if going_further.MARKER in cell.metadata]
    assert len(reflections) == 4
    assert all(cell.cell_type == "markdown" and "nbgrader" not in cell.metadata for cell in reflections)
    ids = [cell.metadata[going_further.MARKER] for cell in reflections]
    source_ids = {grade_id(cell) for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells}
    assert len(set(ids)) == 4 and not set(ids) & source_ids  # nbgrader refuses duplicate grade ids


def gradebook_items(root):
    """{grade id: (points, cell type)} of the gradebook nbgrader made for the course in `root`."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_notebook(ASSIGNMENT, ASSIGNMENT)
        return {cell.name: (cell.max_score, cell.cell_type) for cell in notebook.grade_cells}


def source_grade_items():
    cells = nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells
    graded = [cell for cell in cells if cell.metadata.get("nbgrader", {}).get("grade")]
    return {grade_id(cell): float(cell.metadata["nbgrader"]["points"]) for cell in graded}


@pytest.mark.slow
def test_points_switch_adds_manually_graded_reflections_to_gradebook_and_release(tmp_path, monkeypatch):
    from grading.instructor import autograde

    monkeypatch.setattr(going_further, "GOING_FURTHER_POINTS", 2)
    generate_assignment(build_course(tmp_path))
    items = gradebook_items(tmp_path)
    reflections = ["reflection_smoothing", "reflection_optimizers", "reflection_fid", "reflection_latent"]
    extra = {name: item for name, item in items.items() if name not in source_grade_items()}
    assert extra == {name: (2.0, "markdown") for name in reflections}
    release = nbformat.read(tmp_path / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = [cell for cell in new_cells(release) if going_further.MARKER in cell.metadata]
    assert [cell.source for cell in answers] == ["**Your answer (2 points, graded by hand):**\n\nYOUR ANSWER HERE"] * 4
    assert all(cell.metadata["nbgrader"]["grade"] and cell.metadata["nbgrader"]["solution"] for cell in answers)
    manual = [(g, p) for g, p, auto in autograde.graded_items() if not auto and g.startswith("reflection_")]
    assert manual == [(name, 2.0) for name in reflections]  # grades.csv gets their columns, in notebook order


@pytest.mark.parametrize("points", [0, -1, True, "1"])
def test_points_must_be_a_positive_number(points):
    with pytest.raises(ValueError, match="GOING_FURTHER_POINTS"):
        going_further.apply_points(nbformat.read(SOURCE_NOTEBOOK, as_version=4), points)


@pytest.fixture(scope="module")
def executed(smoke_notebook):
    return new_cells(smoke_notebook)


@pytest.mark.slow
def test_new_cells_run_at_the_smoke_budget_without_errors_or_stderr(executed):
    code = [cell for cell in executed if cell.cell_type == "code"]
    assert {grade_id(cell): cell_problems(cell) for cell in code} == {grade_id(cell): [] for cell in code}
    text = "".join(o.get("text", "") for cell in code for o in cell.outputs)
    assert "skipped" not in text
    for name in ("--- baseline (Xavier init, labels 1/0) ---", "--- SGD lr 1e-2, momentum 0.9 ---", "--- DCGAN ---"):
        assert name in text


@pytest.mark.slow
def test_each_plot_cell_shows_its_figures(executed):
    images = {
        grade_id(cell): sum("image/png" in o.get("data", {}) for o in cell.outputs)
        for cell in executed
        if grade_id(cell) in PLOT_CELLS
    }
    assert images == PLOT_CELLS
