"""The notebook runs top to bottom with the reference solution (nbclient, smoke budget, CPU)."""

import pytest

from grading.ta.run_notebook import QUALITY_CELLS, cell_problems, grade_id


@pytest.fixture(scope="module")
def executed(smoke_notebook):
    return {grade_id(cell) or f"cell{index}": cell for index, cell in enumerate(smoke_notebook.cells)}


def text(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


@pytest.mark.slow
def test_every_cell_runs_without_error_or_stderr(executed):
    problems = {
        name: cell_problems(cell)
        for name, cell in executed.items()
        if cell.cell_type == "code" and name not in QUALITY_CELLS and cell_problems(cell)
    }
    assert problems == {}


@pytest.mark.slow
def test_visible_checks_report_success(executed):
    assert "All tests passed!" in text(executed["test_sample_noise"])
    assert "Correct number of parameters in discriminator: 267009." in text(executed["test_discriminator"])
    assert "Maximum error in d_loss:" in text(executed["test_discriminator_loss"])
    assert "Inline Question 4: answer recorded." in text(executed["test_inline_q4"])


@pytest.mark.slow
def test_training_cells_print_the_classic_log_line(executed):
    for name in ["train_vanilla", "train_lsgan", "train_dcgan"]:
        assert "Iter: 0, D: " in text(executed[name])


@pytest.mark.slow
def test_preview_waits_for_the_full_budget_and_the_last_cell_lists_what_is_left(executed):
    """Under any budget but the student's own, the preview trains nothing; the before-you-submit check
    runs on the solution beside a notebook saved without outputs, and says exactly that."""
    assert text(executed["preview_grading"]) == "Preview skipped (PREVIEW = True, budget 'smoke').\n"
    assert text(executed["before_you_submit"]) == (
        "Before you submit, fix:\n"
        "  - GANs-PyTorch.ipynb was saved without outputs: run it, save it, then submit that file\n"
    )


@pytest.mark.slow
def test_quality_checks_fail_clearly_after_three_iterations(executed):
    """Under the smoke budget the generators are untrained: the image-quality checks must say so."""
    for name in QUALITY_CELLS:
        errors = [o for o in executed[name].outputs if o.output_type == "error"]
        assert errors and "miss the grading thresholds" in errors[0].evalue


def setup_cell():
    import nbformat

    from grading.kit import SOURCE_NOTEBOOK

    return next(c for c in nbformat.read(SOURCE_NOTEBOOK, 4).cells if grade_id(c) == "colab_setup").source


def test_the_setup_cell_is_the_notebooks_first_code_cell():
    import nbformat

    from grading.kit import SOURCE_NOTEBOOK

    first = next(c for c in nbformat.read(SOURCE_NOTEBOOK, 4).cells if c.cell_type == "code")
    assert grade_id(first) == "colab_setup"


def test_colab_upload_without_the_provided_package_says_what_is_missing(tmp_path, monkeypatch):
    """As in Colab after uploading only the notebook and gan.py: a clear message, not 'No module named nndl2'."""
    import sys
    import types

    (tmp_path / "gan.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    with pytest.raises(RuntimeError, match=r"Not found in .*: nndl2/__init__.py, .*the nndl2/ folder"):
        exec(setup_cell(), {})
    import os

    assert os.environ["MNIST_ROOT"] == "/content/mnist"  # MNIST on the runtime's disk, not in Drive


def test_local_setup_finds_everything_in_the_release(monkeypatch):
    from grading.kit import ROOT

    monkeypatch.chdir(ROOT)
    exec(setup_cell(), {})
